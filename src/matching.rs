//! Matching: rows → installations, identical rows collapsed, duplicate GUIDs and shared
//! MPxNs found.
//!
//! Takes one partition's [`Row`]s at a time; hands on its [`Installations`] (each
//! installation's distinct rows, in output order with [`in_output_order`]) and their
//! [`PartitionKeys`] (GUIDs, meters, which installations repeat an MPxN). Across
//! partitions, [`KeyBuckets`] gathers every partition's keys in hash buckets (spilled
//! past the budget) and hands on [`Matches`] (which installations carry a GUID that is
//! on another row, and every shared MPxN with its member installations). Everything is
//! grouped by sorting fixed-size keys, a partition or a bucket at a time, in cache,
//! never by per-row allocation. Equal hashes are
//! always confirmed on the text (installation ids) or on the full identity bytes
//! (identical rows), so a hash collision can never merge two installations or two rows.
//! Leaves to `resolve` what a duplicate *means* (TMAD 4.1C).

use std::borrow::Cow;
use std::io;
use std::ops::Range;
use std::path::Path;

use rayon::prelude::*;

use crate::ingest::{
    identity_bytes, with_fields, Column, DateField, InventoryFile, LineRef, MpxnField, Row,
};
use crate::normalize::MpxnKey;
use crate::registry::Registry;
use crate::spill::{Buckets, Record};

/// Read access to the rows and the mapped lines they came from.
#[derive(Clone, Copy)]
pub struct Corpus<'a> {
    pub files: &'a [InventoryFile],
    pub registry: &'a Registry,
    pub rows: &'a [Row],
}

impl<'a> Corpus<'a> {
    /// The trimmed installation_id of a row: a slice of the mapped file, or — when the
    /// field was quoted with escapes — a copy read back from the line.
    pub fn installation_text(&self, row: u32) -> Cow<'a, [u8]> {
        let r = &self.rows[row as usize];
        if r.installation_len != u32::MAX {
            let start = r.line_ref.offset() + r.installation_start as usize;
            let bytes: &'a [u8] = &self.files[r.line_ref.file()].bytes;
            Cow::Borrowed(&bytes[start..start + r.installation_len as usize])
        } else {
            Cow::Owned(with_fields(self.files, self.registry, r.line_ref, |f| {
                f.get(Column::InstallationId).to_vec()
            }))
        }
    }

    /// The identity bytes of a row (see [`identity_bytes`]), read back from its line.
    fn identity(&self, row: u32) -> Vec<u8> {
        let line_ref = self.rows[row as usize].line_ref;
        with_fields(self.files, self.registry, line_ref, |f| {
            let mut out = Vec::new();
            identity_bytes(f, &mut out);
            out
        })
    }
}

/// The devices of one premises on one comms hub, in one inventory.
#[derive(Clone, Debug)]
pub struct Installation {
    /// Interned upper-cased source.
    pub source: u32,
    /// Its distinct rows: a range of [`Installations::rows`].
    pub rows: Range<u32>,
    /// Its trimmed installation_id: a range of [`Installations::ids`].
    pub id: Range<u64>,
}

/// Every installation, with identical rows collapsed.
pub struct Installations {
    pub list: Vec<Installation>,
    /// Row indices, grouped by installation.
    pub rows: Vec<u32>,
    /// Rows dropped because an identical row was kept (SPEC §5 `duplicate_rows`).
    pub duplicate_rows: u64,
    /// Every installation's id text, copied once while grouping, so that ordering and
    /// laying out installations never go back to the mapped input at random places.
    pub ids: Vec<u8>,
}

impl Installations {
    pub fn rows_of(&self, installation: u32) -> &[u32] {
        let range = &self.list[installation as usize].rows;
        &self.rows[range.start as usize..range.end as usize]
    }

    /// A row that stands for the installation (for its id and source text).
    pub fn representative(&self, installation: u32) -> u32 {
        self.rows[self.list[installation as usize].rows.start as usize]
    }

    /// The same installations renumbered: new installation `i` is old `order[i]`, with
    /// its rows and id copied in that order too, so that walking installations in the
    /// new order reads every column front to back. Built in parallel chunks.
    pub fn reordered(&self, order: &[u32]) -> Installations {
        let parts: Vec<Installations> = order
            .par_chunks(1 << 16)
            .map(|chunk| {
                let mut part = Installations {
                    list: Vec::with_capacity(chunk.len()),
                    rows: Vec::new(),
                    duplicate_rows: 0,
                    ids: Vec::new(),
                };
                for &old in chunk {
                    let rows_start = part.rows.len() as u32;
                    part.rows.extend_from_slice(self.rows_of(old));
                    let id_start = part.ids.len() as u64;
                    part.ids.extend_from_slice(self.id(old));
                    part.list.push(Installation {
                        source: self.list[old as usize].source,
                        rows: rows_start..part.rows.len() as u32,
                        id: id_start..part.ids.len() as u64,
                    });
                }
                part
            })
            .collect();
        let mut out = concat(parts);
        out.duplicate_rows = self.duplicate_rows;
        out
    }

    /// The installation's trimmed installation_id.
    pub fn id(&self, installation: u32) -> &[u8] {
        let r = &self.list[installation as usize].id;
        &self.ids[r.start as usize..r.end as usize]
    }
}

/// Groups rows into installations by (source, installation_id) and collapses rows that
/// are identical after normalisation (SPEC §5 and the Appendix). Cost: one parallel sort
/// of (installation hash, fingerprint, row) keys; text is compared only within a hash
/// run, and full identities are read back only for rows whose fingerprints are equal.
pub fn group_installations(corpus: Corpus<'_>) -> Installations {
    group_installations_up_to(corpus, SEQUENTIAL_GROUPING_ROWS)
}

/// [`group_installations`], sorting on the calling thread up to `sequential` rows.
fn group_installations_up_to(corpus: Corpus<'_>, sequential: usize) -> Installations {
    // A partition's rows (a few hundred thousand): one sort in cache on this thread,
    // since partitions already run in parallel. The same order as the bucketed path
    // below (bucket = the hash's top bits), so the same installations.
    if corpus.rows.len() <= sequential {
        let mut keys: Vec<GroupKey> = (0..corpus.rows.len())
            .map(|i| {
                let r = &corpus.rows[i];
                GroupKey {
                    installation_hash: r.installation_key,
                    fingerprint: r.fingerprint,
                    row: i as u32,
                    chain_head: r.chain_head(i as u32),
                }
            })
            .collect();
        keys.sort_unstable();
        return group_segment(corpus, &keys);
    }
    // Buckets by the hash's top bits, so the buckets in order, each sorted, are the
    // keys in sorted order, and no installation spans two buckets: each bucket is
    // grouped on its own, in parallel, and concatenating in order keeps the result
    // independent of the thread count.
    let bits = bucket_bits(corpus.rows.len());
    let buckets = bucket_sorted(
        corpus.rows.len(),
        1 << bits,
        |i, push| {
            let r = &corpus.rows[i];
            push(GroupKey {
                installation_hash: r.installation_key,
                fingerprint: r.fingerprint,
                row: i as u32,
                chain_head: r.chain_head(i as u32),
            });
        },
        |k: &GroupKey| top_bits(k.installation_hash, bits),
    );
    let parts: Vec<Installations> = buckets
        .par_iter()
        .map(|bucket| group_segment(corpus, bucket))
        .collect();
    drop(buckets);
    concat(parts)
}

/// The installations in output order (SPEC §7: source, then installation_id, in byte
/// order), given each interned source's rank in byte order.
///
/// Sorts fixed-size keys — the source's rank and the id's first 32 bytes as two
/// big-endian `u128`s, zero-padded — so nearly every comparison is two integer
/// compares; only equal keys (ids sharing 32 bytes, or differing only in trailing
/// NULs) fall back to comparing the full text. Zero padding never contradicts byte
/// order, so the fallback only refines ties.
pub fn in_output_order(installations: &Installations, source_rank: &[u32]) -> Installations {
    let mut keys: Vec<(u32, u128, u128, u32)> = (0..installations.list.len() as u32)
        .map(|i| {
            let text = installations.id(i);
            let mut head = [0u8; 32];
            let n = text.len().min(32);
            head[..n].copy_from_slice(&text[..n]);
            let a = u128::from_be_bytes(head[..16].try_into().expect("16 bytes"));
            let b = u128::from_be_bytes(head[16..].try_into().expect("16 bytes"));
            let rank = source_rank[installations.list[i as usize].source as usize];
            (rank, a, b, i)
        })
        .collect();
    keys.sort_unstable_by(|x, y| {
        (x.0, x.1, x.2)
            .cmp(&(y.0, y.1, y.2))
            .then_with(|| installations.id(x.3).cmp(installations.id(y.3)))
    });
    let order: Vec<u32> = keys.into_iter().map(|k| k.3).collect();
    installations.reordered(&order)
}

/// Up to this many rows, [`group_installations`] sorts on the calling thread.
const SEQUENTIAL_GROUPING_ROWS: usize = 1 << 20;

/// Concatenates parts in order, rebasing their row and id ranges.
fn concat(mut parts: Vec<Installations>) -> Installations {
    if parts.len() == 1 {
        return parts.pop().expect("one part");
    }
    let mut out = Installations {
        list: Vec::with_capacity(parts.iter().map(|p| p.list.len()).sum()),
        rows: Vec::with_capacity(parts.iter().map(|p| p.rows.len()).sum()),
        duplicate_rows: 0,
        ids: Vec::with_capacity(parts.iter().map(|p| p.ids.len()).sum()),
    };
    for part in parts {
        let base = out.rows.len() as u32;
        let id_base = out.ids.len() as u64;
        out.list.extend(part.list.into_iter().map(|mut inst| {
            inst.rows = inst.rows.start + base..inst.rows.end + base;
            inst.id = inst.id.start + id_base..inst.id.end + id_base;
            inst
        }));
        out.rows.extend(part.rows);
        out.ids.extend(part.ids);
        out.duplicate_rows += part.duplicate_rows;
    }
    out
}

/// How many bits of bucket index suit `n` items: buckets of about 32,000 items (under a
/// megabyte of keys, so each sorts in cache), at most 4,096 of them.
fn bucket_bits(n: usize) -> u32 {
    (n / 32_768).next_power_of_two().trailing_zeros().min(12)
}

/// The top `bits` bits of `x` (0 when `bits` is 0).
fn top_bits(x: u64, bits: u32) -> usize {
    x.checked_shr(64 - bits).unwrap_or(0) as usize
}

/// Spreads well-clustered keys (GUIDs share vendor prefixes, MPANs share their high
/// digits) over the bucket bits: an odd multiplier is a bijection on `u64`.
fn mix(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Sorts items by (bucket, item) without one big sort: `produce(i, push)` emits the
/// items of source index `i` (for every `i < len`), each is scattered to its bucket
/// (`bucket_of(item) < buckets`) by parallel tasks over ranges of `i`, and every bucket
/// is then gathered and sorted on its own, in parallel. Each bucket fits in cache where
/// a global sort would stream the whole array through memory once per level. The
/// result depends only on the items, not on the thread count.
pub(crate) fn bucket_sorted<T, P, B>(
    len: usize,
    buckets: usize,
    produce: P,
    bucket_of: B,
) -> Vec<Vec<T>>
where
    T: Copy + Ord + Send + Sync,
    P: Fn(usize, &mut dyn FnMut(T)) + Sync,
    B: Fn(&T) -> usize + Sync,
{
    let tasks = (rayon::current_num_threads() * 4).clamp(1, len.max(1));
    let step = len.div_ceil(tasks).max(1);
    let scattered: Vec<Vec<Vec<T>>> = (0..len.div_ceil(step))
        .into_par_iter()
        .map(|t| {
            let mut local: Vec<Vec<T>> = vec![Vec::new(); buckets];
            for i in t * step..((t + 1) * step).min(len) {
                produce(i, &mut |item| local[bucket_of(&item)].push(item));
            }
            local
        })
        .collect();
    // Regroup the parts by bucket (moving vectors, not items), so each bucket's parts
    // are freed as soon as it is gathered.
    let mut by_bucket: Vec<Vec<Vec<T>>> = (0..buckets).map(|_| Vec::new()).collect();
    for local in scattered {
        for (b, part) in local.into_iter().enumerate() {
            if !part.is_empty() {
                by_bucket[b].push(part);
            }
        }
    }
    by_bucket
        .into_par_iter()
        .map(|parts| {
            let mut bucket = Vec::with_capacity(parts.iter().map(Vec::len).sum());
            for part in parts {
                bucket.extend_from_slice(&part);
            }
            bucket.sort_unstable();
            bucket
        })
        .collect()
}

/// A row's grouping key, ordered by its fields in this order (so a sort groups rows by
/// installation hash, identical rows adjacent by fingerprint, then in row order). The
/// chain head rides along (in what would be padding) so that confirming an installation
/// rarely touches the row itself. 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct GroupKey {
    installation_hash: u64,
    fingerprint: u64,
    row: u32,
    chain_head: u32,
}

fn group_segment(corpus: Corpus<'_>, keys: &[GroupKey]) -> Installations {
    let mut out = Installations {
        list: Vec::new(),
        rows: Vec::with_capacity(keys.len()),
        duplicate_rows: 0,
        ids: Vec::new(),
    };
    let mut start = 0;
    while start < keys.len() {
        let hash = keys[start].installation_hash;
        let end = start
            + keys[start..]
                .iter()
                .take_while(|k| k.installation_hash == hash)
                .count();
        let run = &keys[start..end];
        let first = run[0].row;
        let first_head = run[0].chain_head;
        // Rows of one run of input lines share a chain head: equal, no text to read.
        let same_installation = |k: &GroupKey| {
            k.chain_head == first_head
                || (corpus.rows[k.row as usize].source == corpus.rows[first as usize].source
                    && corpus.installation_text(k.row) == corpus.installation_text(first))
        };
        if run.iter().all(same_installation) {
            push_installation(corpus, run, &mut out);
        } else {
            // Two installations with one hash: split the run by (source, text), keeping
            // the fingerprint order inside each class.
            let mut classes: Vec<(u32, Vec<u8>, Vec<GroupKey>)> = Vec::new();
            for &k in run {
                let source = corpus.rows[k.row as usize].source;
                let text = corpus.installation_text(k.row);
                match classes
                    .iter_mut()
                    .find(|c| c.0 == source && c.1 == text.as_ref())
                {
                    Some(class) => class.2.push(k),
                    None => classes.push((source, text.into_owned(), vec![k])),
                }
            }
            for (_, _, class) in classes {
                push_installation(corpus, &class, &mut out);
            }
        }
        start = end;
    }
    out
}

/// Appends one installation, dropping rows identical to one already kept. `run` is
/// sorted by fingerprint, so identical rows are adjacent.
fn push_installation(corpus: Corpus<'_>, run: &[GroupKey], out: &mut Installations) {
    let begin = out.rows.len() as u32;
    let mut i = 0;
    while i < run.len() {
        let fingerprint = run[i].fingerprint;
        let same = run[i..]
            .iter()
            .take_while(|k| k.fingerprint == fingerprint)
            .count();
        if same == 1 {
            out.rows.push(run[i].row);
        } else {
            // Equal fingerprints: confirm on the full identity, keeping the first row of
            // each identity class (in row order, so the choice is reproducible).
            let mut members: Vec<u32> = run[i..i + same].iter().map(|k| k.row).collect();
            members.sort_unstable();
            let mut kept: Vec<(u32, Vec<u8>)> = Vec::new();
            for row in members {
                let identity = corpus.identity(row);
                if kept.iter().any(|(_, id)| *id == identity) {
                    out.duplicate_rows += 1;
                } else {
                    kept.push((row, identity));
                }
            }
            out.rows.extend(kept.into_iter().map(|(row, _)| row));
        }
        i += same;
    }
    let representative = out.rows[begin as usize];
    let id_start = out.ids.len() as u64;
    out.ids
        .extend_from_slice(&corpus.installation_text(representative));
    out.list.push(Installation {
        source: corpus.rows[run[0].row as usize].source,
        rows: begin..out.rows.len() as u32,
        id: id_start..out.ids.len() as u64,
    });
}

/// One meter carrying a valid MPxN, with what a shared MPxN needs of its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MeterRef {
    pub key: u64,
    pub installation: u32,
    pub installed_on: DateField,
    /// Supplier party index in the registry, or `UNKNOWN_PARTY`.
    pub party: u32,
}

/// One partition's installations in output order, reduced to what matching across
/// partitions needs: every valid GUID and every meter with a valid MPxN, each with its
/// installation's number in this partition, in installation order; and which
/// installations repeat an MPxN (a repeat is inside one installation, so it is found
/// here, not across partitions).
#[derive(Default)]
pub struct PartitionKeys {
    /// (GUID, installation, the row's line): the line for findings.csv.
    pub guids: Vec<(u64, u32, LineRef)>,
    pub meters: Vec<MeterRef>,
    pub repeated_mpxn: Vec<bool>,
}

impl PartitionKeys {
    /// The keys of installations `range`, renumbered from `range.start`.
    pub fn slice(&self, range: Range<u32>) -> PartitionKeys {
        let of = |inst: u32| inst - range.start;
        let guids = {
            let lo = self.guids.partition_point(|g| g.1 < range.start);
            let hi = self.guids.partition_point(|g| g.1 < range.end);
            self.guids[lo..hi]
                .iter()
                .map(|&(g, i, line)| (g, of(i), line))
                .collect()
        };
        let meters = {
            let lo = self
                .meters
                .partition_point(|m| m.installation < range.start);
            let hi = self.meters.partition_point(|m| m.installation < range.end);
            self.meters[lo..hi]
                .iter()
                .map(|&m| MeterRef {
                    installation: of(m.installation),
                    ..m
                })
                .collect()
        };
        PartitionKeys {
            guids,
            meters,
            repeated_mpxn: self.repeated_mpxn[range.start as usize..range.end as usize].to_vec(),
        }
    }
}

/// The keys of one partition's installations (see [`PartitionKeys`]).
pub fn partition_keys(rows: &[Row], installations: &Installations) -> PartitionKeys {
    let mut out = PartitionKeys {
        repeated_mpxn: vec![false; installations.list.len()],
        ..PartitionKeys::default()
    };
    for inst in 0..installations.list.len() as u32 {
        let first_meter = out.meters.len();
        for &r in installations.rows_of(inst) {
            let row = &rows[r as usize];
            if let Some(g) = row.guid() {
                out.guids.push((g.to_u64(), inst, row.line_ref));
            }
            if let MpxnField::Valid(key) = row.mpxn() {
                out.meters.push(MeterRef {
                    key: key.to_raw(),
                    installation: inst,
                    installed_on: row.installed_on(),
                    party: row.party,
                });
            }
        }
        let mine = &mut out.meters[first_meter..];
        mine.sort_unstable();
        // REPEATED_MPXN: two distinct rows of the installation carry the same MPxN.
        out.repeated_mpxn[inst as usize] = mine.windows(2).any(|w| w[0].key == w[1].key);
    }
    out
}

/// One installation's part in a shared MPxN: its meters carrying it (more than one
/// means the installation repeats the MPxN).
#[derive(Clone, Debug)]
pub struct GroupMember {
    pub installation: u32,
    pub meters: Range<u32>,
}

/// An MPxN carried by meters of two or more distinct installations.
#[derive(Clone, Debug)]
pub struct DuplicateGroup {
    pub mpxn: MpxnKey,
    pub members: Range<u32>,
}

/// What matching found across installations.
pub struct Matches {
    /// Per installation (global number): DUPLICATE_GUID, a GUID on another row.
    pub duplicate_guid: Vec<bool>,
    /// Every row whose GUID is on another accepted row: (installation, line), sorted.
    pub duplicate_guid_rows: Vec<(u32, LineRef)>,
    pub groups: Vec<DuplicateGroup>,
    pub members: Vec<GroupMember>,
    /// The meters with a valid MPxN — every one, or only those of shared MPxNs (see
    /// [`KeyBuckets::find_matches`]): equal keys together, but the runs in bucket
    /// order, not key order (users sort what they show).
    pub meters: Vec<MeterRef>,
}

impl Matches {
    pub fn members_of(&self, group: &DuplicateGroup) -> &[GroupMember] {
        &self.members[group.members.start as usize..group.members.end as usize]
    }

    pub fn meters_of(&self, member: &GroupMember) -> &[MeterRef] {
        &self.meters[member.meters.start as usize..member.meters.end as usize]
    }
}

/// A valid GUID of a laid-out run's installation: (GUID, run, installation in run).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct GuidKey {
    guid: u64,
    run: u32,
    installation: u32,
    /// The row's [`LineRef`], so that findings.csv can list each duplicated row.
    line: u64,
}

impl Record for GuidKey {
    const SIZE: usize = 24;
    fn encode(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(&self.guid.to_le_bytes());
        out[8..12].copy_from_slice(&self.run.to_le_bytes());
        out[12..16].copy_from_slice(&self.installation.to_le_bytes());
        out[16..24].copy_from_slice(&self.line.to_le_bytes());
    }
    fn decode(b: &[u8]) -> GuidKey {
        GuidKey {
            guid: u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            run: u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
            installation: u32::from_le_bytes(b[12..16].try_into().expect("4 bytes")),
            line: u64::from_le_bytes(b[16..24].try_into().expect("8 bytes")),
        }
    }
}

/// A meter of a laid-out run's installation; `installation` is the number in its run.
#[derive(Clone, Copy, Debug)]
struct MeterKey {
    run: u32,
    meter: MeterRef,
}

impl Record for MeterKey {
    const SIZE: usize = 24;
    fn encode(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(&self.meter.key.to_le_bytes());
        out[8..12].copy_from_slice(&self.run.to_le_bytes());
        out[12..16].copy_from_slice(&self.meter.installation.to_le_bytes());
        out[16..20].copy_from_slice(&self.meter.installed_on.pack().to_le_bytes());
        out[20..24].copy_from_slice(&self.meter.party.to_le_bytes());
    }
    fn decode(b: &[u8]) -> MeterKey {
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        MeterKey {
            run: u32_at(8),
            meter: MeterRef {
                key: u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
                installation: u32_at(12),
                installed_on: DateField::unpack(u32_at(16) as i32),
                party: u32_at(20),
            },
        }
    }
}

/// The GUID and MPxN keys of every laid-out run, in key buckets (by a mix of the key's
/// bits, so each bucket holds all of its keys' occurrences), within a memory allowance.
pub struct KeyBuckets {
    guids: Buckets<GuidKey>,
    meters: Buckets<MeterKey>,
    bits: u32,
}

impl KeyBuckets {
    /// Buckets for about `rows` rows' keys, holding at most `allowance` bytes of them in
    /// memory (spilled to `dir` past it).
    pub fn new(rows: u64, allowance: u64, dir: &Path) -> KeyBuckets {
        let bits = bucket_bits(usize::try_from(rows).unwrap_or(usize::MAX));
        // Shared in proportion to what each holds: a 16-byte GUID key for nearly every
        // row, a 24-byte meter key for about two rows in five.
        KeyBuckets {
            guids: Buckets::new(1 << bits, allowance / 5 * 3, dir),
            meters: Buckets::new(1 << bits, allowance / 5 * 2, dir),
            bits,
        }
    }

    /// Adds the keys of run `run` (numbered in the order runs are laid out).
    pub fn add(&mut self, run: u32, keys: &PartitionKeys) -> io::Result<()> {
        for &(guid, installation, line) in &keys.guids {
            let key = GuidKey {
                guid,
                run,
                installation,
                line: line.to_raw(),
            };
            self.guids.push(top_bits(mix(guid), self.bits), key);
        }
        for &meter in &keys.meters {
            let key = MeterKey { run, meter };
            self.meters.push(top_bits(mix(meter.key), self.bits), key);
        }
        self.guids.settle()?;
        self.meters.settle()
    }

    /// Bytes of keys written to spill files.
    pub fn spilled_bytes(&self) -> u64 {
        self.guids.spilled_bytes() + self.meters.spilled_bytes()
    }

    /// Finds duplicate GUIDs and shared MPxNs: `bases[run]` is the global number of the
    /// run's first installation, `installations` the total. Buckets are taken back a
    /// few at a time and sorted in cache, in parallel. `all_meters` keeps every meter
    /// (the index's lookup map needs them); otherwise only those of shared MPxNs.
    pub fn find_matches(
        mut self,
        bases: &[u32],
        installations: usize,
        all_meters: bool,
    ) -> io::Result<Matches> {
        let batch = rayon::current_num_threads() * 4;
        let count = self.guids.count();
        let mut duplicate_guid = vec![false; installations];
        let mut duplicate_guid_rows = Vec::new();
        for first in (0..count).step_by(batch) {
            let buckets = self.guids.take_batch(first..(first + batch).min(count))?;
            // DUPLICATE_GUID: a canonical GUID on more than one distinct accepted row.
            let flagged: Vec<Vec<(u32, LineRef)>> = buckets
                .into_par_iter()
                .map(|bucket| {
                    let mut keys: Vec<(u64, u32, u64)> = bucket
                        .iter()
                        .map(|k| (k.guid, bases[k.run as usize] + k.installation, k.line))
                        .collect();
                    drop(bucket);
                    keys.sort_unstable();
                    keys.chunk_by(|a, b| a.0 == b.0)
                        .filter(|run| run.len() > 1)
                        .flat_map(|run| {
                            run.iter()
                                .map(|&(_, inst, line)| (inst, LineRef::from_raw(line)))
                        })
                        .collect()
                })
                .collect();
            for (inst, line) in flagged.into_iter().flatten() {
                duplicate_guid[inst as usize] = true;
                duplicate_guid_rows.push((inst, line));
            }
        }

        // Meters by MPxN: each bucket sorted (key, installation, ...), in bucket order.
        let mut meters = Vec::new();
        let mut groups = Vec::new();
        let mut members = Vec::new();
        for first in (0..count).step_by(batch) {
            let buckets = self.meters.take_batch(first..(first + batch).min(count))?;
            let sorted: Vec<Vec<MeterRef>> = buckets
                .into_par_iter()
                .map(|bucket| {
                    let mut refs: Vec<MeterRef> = bucket
                        .iter()
                        .map(|k| MeterRef {
                            installation: bases[k.run as usize] + k.meter.installation,
                            ..k.meter
                        })
                        .collect();
                    drop(bucket);
                    refs.sort_unstable();
                    refs
                })
                .collect();
            for bucket in sorted {
                for run in bucket.chunk_by(|a, b| a.key == b.key) {
                    let shared =
                        run.first().map(|m| m.installation) != run.last().map(|m| m.installation);
                    if !shared && !all_meters {
                        continue;
                    }
                    let offset = meters.len() as u32;
                    meters.extend_from_slice(run);
                    if !shared {
                        // Carried by one installation only: not shared (a repeat inside
                        // it is REPEATED_MPXN alone).
                        continue;
                    }
                    let first_member = members.len() as u32;
                    let mut member_offset = offset;
                    for part in run.chunk_by(|a, b| a.installation == b.installation) {
                        members.push(GroupMember {
                            installation: part[0].installation,
                            meters: member_offset..member_offset + part.len() as u32,
                        });
                        member_offset += part.len() as u32;
                    }
                    groups.push(DuplicateGroup {
                        mpxn: MpxnKey::from_raw(run[0].key).expect("valid keys are non-zero"),
                        members: first_member..members.len() as u32,
                    });
                }
            }
        }
        duplicate_guid_rows.sort_unstable();
        Ok(Matches {
            duplicate_guid,
            duplicate_guid_rows,
            groups,
            members,
            meters,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_sorted_is_bucket_then_item_order_for_any_thread_count() {
        let items: Vec<u64> = (0..10_000u64).map(|i| mix(i) % 1_000).collect();
        let bits = 4;
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                bucket_sorted(
                    items.len(),
                    1 << bits,
                    |i, push| push(items[i]),
                    |&x: &u64| top_bits(mix(x), bits),
                )
            })
        };
        let one = run(1);
        assert_eq!(one, run(3));
        assert_eq!(one.len(), 16);
        let mut expected = items.clone();
        expected.sort_by_key(|&x| (top_bits(mix(x), bits), x));
        assert_eq!(one.concat(), expected);
        for (b, bucket) in one.iter().enumerate() {
            assert!(bucket.iter().all(|&x| top_bits(mix(x), bits) == b));
        }
    }

    #[test]
    fn grouping_on_one_thread_equals_grouping_in_buckets() {
        // Generated inventories (shared MPxNs, duplicate rows, chains of one
        // installation's rows) in one partition, grouped both ways.
        let dir = tempfile::tempdir().unwrap();
        let data = crate::generate::generate(140_000, 7, dir.path()).unwrap();
        let registry = Registry::open(&data.suppliers).unwrap();
        let files: Vec<InventoryFile> = (data.inventories.iter())
            .map(|p| InventoryFile::open(p).unwrap())
            .collect();
        let settings = crate::ingest::IngestSettings {
            partition_bytes: usize::MAX,
            ..Default::default()
        };
        let budget = crate::spill::Budget::unlimited();
        let mut ingested = crate::ingest::ingest(&files, &registry, settings, &budget).unwrap();
        let rows = ingested.partitions.take(0).unwrap();
        assert!(bucket_bits(rows.len()) > 0, "several buckets");
        let corpus = Corpus {
            files: &files,
            registry: &registry,
            rows: &rows,
        };
        /// Each installation's source, rows and id; and the rows dropped.
        type Seen = (Vec<(u32, Vec<u32>, Vec<u8>)>, u64);
        let seen = |g: &Installations| -> Seen {
            let list = (0..g.list.len() as u32)
                .map(|i| {
                    let inst = &g.list[i as usize];
                    (inst.source, g.rows_of(i).to_vec(), g.id(i).to_vec())
                })
                .collect();
            (list, g.duplicate_rows)
        };
        let one = seen(&group_installations_up_to(corpus, usize::MAX));
        let bucketed = seen(&group_installations_up_to(corpus, 0));
        assert!(one.1 > 0, "the data has duplicate rows");
        assert_eq!(one, bucketed);
    }

    #[test]
    fn bucket_bits_stay_in_range() {
        assert_eq!(bucket_bits(0), 0);
        assert_eq!(top_bits(u64::MAX, 0), 0);
        assert_eq!(top_bits(u64::MAX, 12), 4095);
        assert_eq!(bucket_bits(60_000_000), 11);
        assert_eq!(bucket_bits(usize::MAX / 2), 12);
    }
}
