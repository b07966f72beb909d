//! Building an index image from a CSV sweep's evidence, partition by partition.
//!
//! Lays the sweep's date-independent evidence out as the sections of [`super::Section`]:
//! installations in output order (source, then installation id), each with its own
//! findings (everything but FUTURE_COMMS and the duplicate findings, which depend on the
//! as-of date), its communication evidence, its MPxNs and its devices; every shared
//! MPxN with its members' install dates and parties; fst maps from every valid MPxN and
//! GUID to postings; rejects.csv as written; and the build metadata. Takes one
//! partition's evidence at a time ([`installation_part`]: the partition's rows can be
//! freed as soon as it is laid out), then the parts and the matches of the whole sweep
//! ([`assemble`]). Deterministic: the same inputs in any row or file order, cut into
//! any partitions, give the same bytes.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use rayon::prelude::*;

use super::format::{
    mpxn_fst_key, Accounting, BuildMeta, InputFile, StrRef, DAY_NONE, DAY_UNKNOWN, DEV_DORMANT,
    INST_COMMS_UNREADABLE, INST_SMETS2, NONE_U32,
};
use super::{Fixed, Image, Section, SECTION_COUNT};
use crate::delimited::push_record;
use crate::ingest::{self, DateField, Ingested, InventoryFile, MpxnField, Row};
use crate::matching::{Installations, Matches, PartitionKeys};
use crate::normalize::{MpxnKey, MpxnText};
use crate::registry::{Registry, SupplierStatus};
use crate::resolve::{self, InstallationFacts};
use crate::timing;

/// Appends texts to the heap and hands back references.
#[derive(Default)]
struct Heap {
    bytes: Vec<u8>,
}

impl Heap {
    fn push(&mut self, text: &[u8]) -> u64 {
        // Longer texts than 16 MiB cannot come from an accepted row of a sane file;
        // they are cut rather than allowed to corrupt the reference.
        let text = &text[..text.len().min(StrRef::MAX_LEN)];
        let r = StrRef::new(self.bytes.len(), text.len());
        self.bytes.extend_from_slice(text);
        r.0
    }
}

/// Column writers, one per section.
struct Sections(Vec<Vec<u8>>);

impl Sections {
    fn put<T: Fixed>(&mut self, s: Section, v: T) {
        v.write(&mut self.0[s.index()]);
    }
}

/// What an image is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The sections a sweep reads (no devices, no lookup maps).
    Sweep,
    /// Every section: what `index build` writes.
    Index,
}

/// What the image records of the whole sweep besides its partitions.
pub struct Inputs<'a> {
    pub suppliers: &'a Path,
    pub files: &'a [InventoryFile],
    pub registry: &'a Registry,
    /// Rejects, checksums and the interned texts (the rows are gone by now).
    pub ingested: &'a Ingested,
    pub accounting: Accounting,
}

/// One partition's evidence, installations in output order.
pub struct PartitionEvidence<'a> {
    pub rows: &'a [Row],
    pub installations: &'a Installations,
    pub facts: &'a [InstallationFacts],
    pub keys: &'a PartitionKeys,
}

impl PartitionEvidence<'_> {
    /// Writes the distinct canonical MPxNs the installation's meters carry, sorted as
    /// text and `;`-joined, into `out`. `keys` is scratch, so nothing is allocated per
    /// installation once it has grown.
    fn mpxns_into(&self, installation: u32, keys: &mut Vec<MpxnText>, out: &mut Vec<u8>) {
        keys.clear();
        keys.extend(
            self.installations
                .rows_of(installation)
                .iter()
                .filter_map(|&r| match self.rows[r as usize].mpxn() {
                    MpxnField::Valid(key) => Some(key.text()),
                    _ => None,
                }),
        );
        keys.sort_unstable();
        keys.dedup();
        out.clear();
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                out.push(b';');
            }
            out.extend_from_slice(key.as_bytes());
        }
    }
}

/// Puts the laid-out partitions (in output order), the dictionaries and the matches of
/// the whole sweep together as an image for `purpose`. Cost: one sort of the shared
/// MPxNs and, for an index, one of all MPxN keys by text and one of all GUIDs; memory
/// about the size of the image itself (columns are sized exactly, and each part is
/// freed once appended).
pub fn assemble(
    inputs: &Inputs<'_>,
    dict: &Dictionaries,
    parts: Vec<InstallationPart>,
    matches: &Matches,
    purpose: Purpose,
) -> Image {
    let lookup = purpose == Purpose::Index;
    let installations: usize = parts.iter().map(|p| p.installations as usize).sum();
    let devices: usize = parts.iter().map(|p| p.devices as usize).sum();
    let mut out = Sections::reserved(installations, devices);
    let mut heap = Heap::default();
    put_dictionaries(inputs, dict, &mut heap, &mut out);
    let t = timing::stage("image: installation columns");
    put_installations(parts, &matches.duplicate_guid, &mut heap, &mut out);
    drop(t);
    let t = timing::stage("image: shared MPxNs");
    let group_of_key = put_shared_mpxns(inputs.registry, matches, &mut heap, &mut out);
    drop(t);
    if lookup {
        let _t = timing::stage("image: lookup maps");
        lookup_maps(matches, &group_of_key, &mut out);
    }
    out.0[Section::Rejects.index()] = rejects_csv(inputs);
    out.0[Section::Meta.index()] =
        postcard::to_allocvec(&meta(inputs)).expect("serialising to memory");
    out.0[Section::Heap.index()] = heap.bytes;
    Image { sections: out.0 }
}

impl Sections {
    /// Sections for `n` installations and `d` devices, each column reserved exactly.
    fn reserved(n: usize, d: usize) -> Sections {
        let mut out = Sections(vec![Vec::new(); SECTION_COUNT]);
        for (section, width, count) in [
            (Section::InstSource, 4, n),
            (Section::InstId, 8, n),
            (Section::InstGroup, 4, n),
            (Section::InstFindings, 4, n),
            (Section::InstFlags, 4, n),
            (Section::InstLastComms, 4, n),
            (Section::InstMpxns, 8, n),
            (Section::InstDevices, 4, n + 1),
            (Section::DevInst, 4, d),
            (Section::DevGuid, 8, d),
            (Section::DevMpxn, 8, d),
            (Section::DevInstalled, 4, d),
            (Section::DevLastComms, 4, d),
            (Section::DevParty, 4, d),
            (Section::DevType, 4, d),
            (Section::DevFlags, 4, d),
        ] {
            out.0[section.index()].reserve_exact(width * count);
        }
        out
    }
}

/// The dictionaries, in text order: ids interned in first-seen order are remapped, so
/// the image does not depend on the order of input rows.
fn put_dictionaries(inputs: &Inputs<'_>, dict: &Dictionaries, heap: &mut Heap, out: &mut Sections) {
    let ingested = inputs.ingested;
    for &id in &dict.sources.ids {
        let r = heap.push(ingested.sources.get(id));
        out.put(Section::Sources, r);
    }
    for &id in &dict.groups.ids {
        let r = heap.push(ingested.groups.get(id));
        out.put(Section::GroupIds, r);
    }
    for &id in &dict.device_types.ids {
        let r = heap.push(ingested.device_types.get(id));
        out.put(Section::DeviceTypes, r);
    }
    for &id in &dict.parties.ids {
        let party = &inputs.registry.parties()[id as usize];
        let r = heap.push(party.id.as_bytes());
        out.put(Section::Parties, r);
        let status: u8 = match party.status {
            SupplierStatus::Live => 0,
            SupplierStatus::CeasedTrading => 1,
            SupplierStatus::NotLiveUser => 2,
        };
        out.put(Section::PartyStatus, status);
    }
}

/// The installation and device columns, from the parts in output order: each part's
/// heap references, device offsets and installation numbers are rebased (in parallel)
/// to where it lands, its installations' DUPLICATE_GUID (found across partitions) is
/// added to their findings, and it is appended and freed.
fn put_installations(
    mut parts: Vec<InstallationPart>,
    duplicate_guid: &[bool],
    heap: &mut Heap,
    out: &mut Sections,
) {
    let mut bases = Vec::with_capacity(parts.len());
    let (mut heap_len, mut devices, mut installations) = (heap.bytes.len() as u64, 0u32, 0u32);
    for part in &parts {
        bases.push((heap_len, devices, installations));
        heap_len += part.heap.len() as u64;
        devices += part.devices;
        installations += part.installations;
    }
    parts
        .par_iter_mut()
        .zip(&bases)
        .for_each(|(part, &(heap_base, device_base, inst_base))| {
            part.rebase(heap_base, device_base, inst_base);
            let flagged = &duplicate_guid[inst_base as usize..][..part.installations as usize];
            part.add_duplicate_guid(flagged);
        });
    out.put(Section::InstDevices, 0u32);
    for part in parts {
        heap.bytes.extend_from_slice(&part.heap);
        for (section, bytes) in part.sections.0.iter().enumerate() {
            out.0[section].extend_from_slice(bytes);
        }
    }
}

/// Shared MPxNs in MPxN text order, members in installation (= output) order, each
/// with its install date for the MPxN and its parties. Returns each shared MPxN's
/// group number by raw key, for the lookup maps.
fn put_shared_mpxns(
    registry: &Registry,
    matches: &Matches,
    heap: &mut Heap,
    out: &mut Sections,
) -> hashbrown::HashMap<u64, u32> {
    let mut groups: Vec<(String, usize)> = matches
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.mpxn.to_string(), i))
        .collect();
    groups.par_sort_unstable();
    let mut group_of_key = hashbrown::HashMap::with_capacity(groups.len());
    let mut members = 0u32;
    let mut dates: Vec<DateField> = Vec::new();
    out.put(Section::GroupMembers, 0u32);
    for (new_group, (_, g)) in groups.iter().enumerate() {
        let group = &matches.groups[*g];
        group_of_key.insert(group.mpxn.to_raw(), new_group as u32);
        out.put(Section::GroupKey, group.mpxn.to_raw());
        let mut list: Vec<_> = matches.members_of(group).iter().collect();
        list.sort_by_key(|m| m.installation);
        for member in list {
            let meters = matches.meters_of(member);
            dates.clear();
            dates.extend(meters.iter().map(|m| m.installed_on));
            let installed = resolve::member_install_date(&dates).map_or(DAY_UNKNOWN, |d| d.0);
            let mut parties: Vec<&str> = meters
                .iter()
                .filter_map(|m| registry.party(m.party))
                .map(|p| p.id.as_str())
                .collect();
            parties.sort_unstable();
            parties.dedup();
            out.put(Section::MemberInst, member.installation);
            out.put(Section::MemberInstalled, installed);
            let p = heap.push(parties.join(";").as_bytes());
            out.put(Section::MemberParties, p);
            members += 1;
        }
        out.put(Section::GroupMembers, members);
    }
    group_of_key
}

/// The lookup maps: every valid MPxN and every valid GUID, as fst maps to postings. The
/// two maps are independent and are built at the same time (each fst is built on one
/// thread).
fn lookup_maps(matches: &Matches, group_of_key: &hashbrown::HashMap<u64, u32>, out: &mut Sections) {
    let dev_guid = &out.0[Section::DevGuid.index()];
    let ((mpxn_fst, mpxn_postings), (guid_fst, guid_postings)) =
        rayon::join(|| mpxn_map(matches, group_of_key), || guid_map(dev_guid));
    out.0[Section::MpxnFst.index()] = mpxn_fst;
    out.0[Section::MpxnPostings.index()] = mpxn_postings;
    out.0[Section::GuidFst.index()] = guid_fst;
    out.0[Section::GuidPostings.index()] = guid_postings;
}

/// Every valid MPxN → [group or NONE, count, installations...], as (fst, postings).
/// Keys are sorted as fst text; each points at its run of `matches.meters`.
fn mpxn_map(matches: &Matches, group_of_key: &hashbrown::HashMap<u64, u32>) -> (Vec<u8>, Vec<u8>) {
    let runs: Vec<(usize, usize)> = {
        let mut runs = Vec::new();
        let mut start = 0;
        for run in matches.meters.chunk_by(|a, b| a.key == b.key) {
            runs.push((start, start + run.len()));
            start += run.len();
        }
        runs
    };
    let mut keys: Vec<([u8; 16], u32)> = runs
        .par_iter()
        .enumerate()
        .map(|(i, &(start, _))| {
            let key =
                MpxnKey::from_raw(matches.meters[start].key).expect("valid keys are non-zero");
            let mut k = [0u8; 16];
            let text = mpxn_fst_key(key);
            k[..text.len()].copy_from_slice(&text);
            (k, i as u32)
        })
        .collect();
    // Zero padding sorts below every digit, so this is the keys' text order.
    keys.par_sort_unstable();
    let mut map = fst::MapBuilder::memory();
    let mut postings = Vec::with_capacity(4 * (2 * keys.len() + matches.meters.len()));
    let mut posting = 0u64;
    let mut insts: Vec<u32> = Vec::new();
    for (k, run) in &keys {
        let (start, end) = runs[*run as usize];
        let run = &matches.meters[start..end];
        let len = k.iter().position(|&b| b == 0).unwrap_or(k.len());
        map.insert(&k[..len], posting)
            .expect("keys are sorted and distinct");
        insts.clear();
        insts.extend(run.iter().map(|m| m.installation));
        insts.sort_unstable();
        insts.dedup();
        group_of_key
            .get(&run[0].key)
            .copied()
            .unwrap_or(NONE_U32)
            .write(&mut postings);
        (insts.len() as u32).write(&mut postings);
        for &i in &insts {
            i.write(&mut postings);
        }
        posting += 2 + insts.len() as u64;
    }
    (map.into_inner().expect("in-memory fst"), postings)
}

/// Every valid GUID → [count, devices...], as (fst, postings), from the `dev_guid`
/// column.
fn guid_map(dev_guid: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut guids: Vec<(u64, u32)> = dev_guid
        .chunks_exact(8)
        .enumerate()
        .filter_map(|(d, b)| {
            let g = u64::read(b);
            (g != 0).then_some((g, d as u32))
        })
        .collect();
    guids.par_sort_unstable();
    let mut map = fst::MapBuilder::memory();
    let mut postings = Vec::with_capacity(8 * guids.len());
    let mut posting = 0u64;
    for run in guids.chunk_by(|a, b| a.0 == b.0) {
        map.insert(run[0].0.to_be_bytes(), posting)
            .expect("sorted, distinct");
        (run.len() as u32).write(&mut postings);
        for &(_, d) in run {
            d.write(&mut postings);
        }
        posting += 1 + run.len() as u64;
    }
    (map.into_inner().expect("in-memory fst"), postings)
}

/// One run of installations' columns (one source's installations of one partition),
/// with its own heap, device offsets and installation numbers, all from 0.
pub struct InstallationPart {
    sections: Sections,
    heap: Vec<u8>,
    devices: u32,
    installations: u32,
}

impl InstallationPart {
    pub fn installations(&self) -> u32 {
        self.installations
    }

    /// Rebases the part's heap references, device offsets and installation numbers,
    /// local to it, to where it lands in the image.
    fn rebase(&mut self, heap_base: u64, device_base: u32, inst_base: u32) {
        for section in [Section::InstId, Section::InstMpxns] {
            for r in self.sections.0[section.index()].chunks_exact_mut(8) {
                let rebased = u64::read(r) + (heap_base << 24);
                r.copy_from_slice(&rebased.to_le_bytes());
            }
        }
        for d in self.sections.0[Section::InstDevices.index()].chunks_exact_mut(4) {
            let rebased = u32::read(d) + device_base;
            d.copy_from_slice(&rebased.to_le_bytes());
        }
        for i in self.sections.0[Section::DevInst.index()].chunks_exact_mut(4) {
            let rebased = u32::read(i) + inst_base;
            i.copy_from_slice(&rebased.to_le_bytes());
        }
    }

    /// Adds DUPLICATE_GUID to the findings of the part's installations `flagged` says.
    fn add_duplicate_guid(&mut self, flagged: &[bool]) {
        let column = &mut self.sections.0[Section::InstFindings.index()];
        for (f, &dup) in column.chunks_exact_mut(4).zip(flagged) {
            if dup {
                let stored = resolve::FindingSet::from_bits(u32::read(f));
                let bits = stored.union(resolve::matching_findings(true, false)).bits();
                f.copy_from_slice(&bits.to_le_bytes());
            }
        }
    }
}

/// Lays out the installations `range` of one partition (one source's, in output order),
/// and, `with_devices`, their devices. DUPLICATE_GUID is added when the parts are
/// assembled: it is found across partitions.
pub fn installation_part(
    evidence: &PartitionEvidence<'_>,
    dict: &Dictionaries,
    range: Range<u32>,
    with_devices: bool,
) -> InstallationPart {
    let mut out = Sections(vec![Vec::new(); SECTION_COUNT]);
    for (section, width) in [
        (Section::InstSource, 4),
        (Section::InstId, 8),
        (Section::InstGroup, 4),
        (Section::InstFindings, 4),
        (Section::InstFlags, 4),
        (Section::InstLastComms, 4),
        (Section::InstMpxns, 8),
        (Section::InstDevices, 4),
    ] {
        out.0[section.index()].reserve_exact(width * range.len());
    }
    let mut heap = Heap::default();
    let mut devices = 0u32;
    let (mut mpxn_keys, mut mpxn_text) = (Vec::new(), Vec::new());
    let mut rows: Vec<&Row> = Vec::new();
    let installations = range.len() as u32;
    let first = range.start;
    for installation in range {
        let inst = installation as usize;
        let facts = &evidence.facts[inst];
        out.put(
            Section::InstSource,
            dict.sources.rank(evidence.installations.list[inst].source),
        );
        let id = heap.push(evidence.installations.id(installation));
        out.put(Section::InstId, id);
        out.put(Section::InstGroup, dict.groups.rank(facts.group));
        let findings = facts.findings.union(resolve::matching_findings(
            false,
            evidence.keys.repeated_mpxn[inst],
        ));
        out.put(Section::InstFindings, findings.bits());
        let mut flags = 0u32;
        if facts.smets2 {
            flags |= INST_SMETS2;
        }
        if facts.comms.unreadable {
            flags |= INST_COMMS_UNREADABLE;
        }
        out.put(Section::InstFlags, flags);
        out.put(
            Section::InstLastComms,
            facts.comms.last.map_or(DAY_NONE, |d| d.0),
        );
        evidence.mpxns_into(installation, &mut mpxn_keys, &mut mpxn_text);
        let mpxns = heap.push(&mpxn_text);
        out.put(Section::InstMpxns, mpxns);

        if !with_devices {
            out.put(Section::InstDevices, 0u32);
            continue;
        }
        // Devices in an order fixed by their content, not by input order.
        rows.clear();
        rows.extend(
            evidence
                .installations
                .rows_of(installation)
                .iter()
                .map(|&r| &evidence.rows[r as usize]),
        );
        rows.sort_by_key(|r| device_key(dict, r));
        for r in &rows {
            out.put(Section::DevInst, installation - first);
            out.put(Section::DevGuid, r.device);
            out.put(Section::DevMpxn, r.mpxn_raw());
            out.put(Section::DevInstalled, day_or(r.installed_on(), DAY_UNKNOWN));
            out.put(Section::DevLastComms, day_or(r.last_comms(), DAY_UNKNOWN));
            out.put(Section::DevParty, dict.parties.rank(r.party));
            out.put(Section::DevType, device_type(dict, r));
            out.put(Section::DevFlags, if r.dormant() { DEV_DORMANT } else { 0 });
            devices += 1;
        }
        // Offsets local to the part, without the leading 0: rebased when appended.
        out.put(Section::InstDevices, devices);
    }
    InstallationPart {
        sections: out,
        heap: heap.bytes,
        devices,
        installations,
    }
}

fn day_or(d: DateField, otherwise: i32) -> i32 {
    match d {
        DateField::Day(day) => day.0,
        DateField::None => DAY_NONE,
        DateField::Invalid => otherwise,
    }
}

/// A row's device type as a rank in the device-type dictionary; [`NONE_U32`] for the
/// types past the 65,535 that rows can name (shown as "(other)").
fn device_type(dict: &Dictionaries, r: &Row) -> u32 {
    match r.device_type {
        ingest::OTHER_DEVICE_TYPE => NONE_U32,
        t => dict.device_types.rank(u32::from(t)),
    }
}

/// Orders an installation's devices by what the index stores of them.
fn device_key(dict: &Dictionaries, r: &Row) -> (u32, u64, u64, i32, i32, u32, bool) {
    (
        device_type(dict, r),
        r.device,
        r.mpxn_raw(),
        day_or(r.installed_on(), DAY_UNKNOWN),
        day_or(r.last_comms(), DAY_UNKNOWN),
        dict.parties.rank(r.party),
        r.dormant(),
    )
}

/// A dictionary's ids in text order, and each id's rank in it.
struct Ranked {
    ids: Vec<u32>,
    rank_of: Vec<u32>,
}

impl Ranked {
    fn new<T: Ord>(len: usize, text: impl Fn(u32) -> T) -> Ranked {
        let rank_of = ingest::ranks_by(len, text);
        let mut ids = vec![0u32; len];
        for (id, &rank) in rank_of.iter().enumerate() {
            ids[rank as usize] = id as u32;
        }
        Ranked { ids, rank_of }
    }

    /// The rank of an id; "none" ([`NONE_U32`]) stays none.
    fn rank(&self, id: u32) -> u32 {
        self.rank_of.get(id as usize).copied().unwrap_or(NONE_U32)
    }
}

pub struct Dictionaries {
    sources: Ranked,
    groups: Ranked,
    device_types: Ranked,
    parties: Ranked,
}

impl Dictionaries {
    pub fn of(ingested: &Ingested, registry: &Registry) -> Dictionaries {
        let parties = registry.parties();
        Dictionaries {
            sources: Ranked::new(ingested.sources.len(), |id| ingested.sources.get(id)),
            groups: Ranked::new(ingested.groups.len(), |id| ingested.groups.get(id)),
            device_types: Ranked::new(ingested.device_types.len(), |id| {
                ingested.device_types.get(id)
            }),
            parties: Ranked::new(parties.len(), |id| parties[id as usize].id.as_bytes()),
        }
    }

    /// Each interned source's rank in byte order (the first key of output order).
    pub fn source_ranks(&self) -> &[u32] {
        &self.sources.rank_of
    }
}

/// rejects.csv as the report writes it: sorted by file (as given) then line; raw text
/// with invalid UTF-8 replaced by U+FFFD.
fn rejects_csv(inputs: &Inputs<'_>) -> Vec<u8> {
    let mut rejects: Vec<(String, u64, &'static str, ingest::LineRef)> = inputs
        .ingested
        .rejects
        .iter()
        .map(|r| {
            let path = inputs.files[r.line_ref.file()]
                .path
                .to_string_lossy()
                .into_owned();
            (path, r.line_no, r.reason.as_str(), r.line_ref)
        })
        .collect();
    rejects.sort();
    let mut out = b"file,line,reason,raw\n".to_vec();
    for (path, line, reason, line_ref) in rejects {
        let raw = String::from_utf8_lossy(ingest::raw_line(inputs.files, line_ref));
        push_record(
            &mut out,
            &[
                path.as_bytes(),
                line.to_string().as_bytes(),
                reason.as_bytes(),
                raw.as_bytes(),
            ],
        );
    }
    out
}

fn meta(inputs: &Inputs<'_>) -> BuildMeta {
    let mut inventories: Vec<InputFile> = inputs
        .files
        .iter()
        .zip(&inputs.ingested.checksums)
        .map(|(f, &crc)| InputFile {
            path: f.path.to_string_lossy().into_owned(),
            bytes: f.bytes.len() as u64,
            crc32c: format!("{crc:08x}"),
        })
        .collect();
    inventories.sort_by(|a, b| a.path.cmp(&b.path));
    let mut rejects_by_reason = BTreeMap::new();
    for r in &inputs.ingested.rejects {
        *rejects_by_reason
            .entry(r.reason.as_str().to_string())
            .or_default() += 1;
    }
    BuildMeta {
        engine: "mpxn-recon".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        inventories,
        suppliers: InputFile {
            path: inputs.suppliers.to_string_lossy().into_owned(),
            bytes: inputs.registry.size,
            crc32c: format!("{:08x}", inputs.registry.checksum),
        },
        rows: inputs.accounting,
        rejects_by_reason,
    }
}
