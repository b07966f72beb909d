//! Generate: a deterministic, realistic synthetic national inventory (for benchmarks and
//! tests at scale).
//!
//! Takes a row target, a seed and a directory; writes one inventory file per SMETS1 SMSO
//! and one for SMETS2+, a supplier registry, the as-of date, and `ground_truth.csv`
//! listing every conflict it injected. Everything is a pure function of (seed, global
//! installation number), so each file is written by its own thread without coordination
//! and the same seed always gives the same bytes. Files are streamed; memory is constant.
//!
//! What it makes: ~40% SMETS1 installations over the eight GroupIDs and ~60% SMETS2+; a
//! comms hub in every installation, an ESME in ~95%, a GSME in ~60%, sometimes a PPMID or
//! IHD; valid MPANs (distributor areas 10–23) and MPRNs with correct check digits; install
//! dates 2012–2024; ~40 supplier parties with two to four ids each, two ceased trading and
//! two not live; ~10% dormant SMETS1 meters. Injected at low rates: MPxNs shared within an
//! SMSO, across SMSOs and with SMETS2 (groups of 2–4), duplicate GUIDs, invalid and missing
//! identifiers, unparseable and future dates, the messy spellings SPEC §4 normalises,
//! identical repeated rows, and rows that must be rejected.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::normalize::Day;

/// The SMETS1 SMSOs and the GroupIDs each serves; the last source is SMETS2+.
const SMSOS: [(&str, &[&str]); 4] = [
    ("SMSO-IOC", &["AA", "BA", "CA"]),
    ("SMSO-MOC-MDS", &["CB"]),
    ("SMSO-MOC-SECURE", &["DA"]),
    ("SMSO-FOC", &["EA", "EB", "EC"]),
];
const PARTIES: usize = 40;
const HEADER: &str = "source,group_id,installation_id,device_id,device_type,mpxn,installed_on,last_comms_at,supplier_id,dormant\n";

/// The as-of date the generated data is made for.
pub fn as_of() -> Day {
    Day::from_ymd(2025, 1, 31)
}

/// SplitMix64: a tiny, well-distributed generator; `at(seed, a, b)` is a pure function.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Random draws for one installation, reproducible from (seed, installation number).
struct Draw {
    state: u64,
}

impl Draw {
    fn new(seed: u64, inst: u64) -> Draw {
        Draw {
            state: mix(seed ^ mix(inst)),
        }
    }
    fn next(&mut self) -> u64 {
        self.state = mix(self.state);
        self.state
    }
    /// True with probability `per_million` / 1,000,000.
    fn chance(&mut self, per_million: u64) -> bool {
        self.next() % 1_000_000 < per_million
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Which file installation `g` belongs to: 0..4 the SMSOs, 4 SMETS2.
fn source_of(seed: u64, g: u64) -> usize {
    let r = mix(seed ^ 0x5EED ^ mix(g)) % 100;
    if r < 40 {
        (r % 4) as usize
    } else {
        4
    }
}

/// A valid 13-digit MPAN core for installation number `g` (distributor areas 10–23,
/// correct check digit). Also used by the benches.
pub fn mpan_of(g: u64) -> String {
    let area = 10 + g % 14;
    let first12 = format!("{area:02}{:010}", (g * 7_919) % 10_000_000_000);
    let check =
        crate::normalize::Mpan::check_digit(first12.as_bytes()).expect("12 digits by construction");
    format!("{first12}{check}")
}

/// A valid 10-digit MPRN for installation number `g`. Also used by the benches.
pub fn mprn_of(g: u64) -> String {
    let base = format!("{:08}", 10_000_000 + (g * 104_729) % 89_999_999);
    let sum: u64 = base
        .bytes()
        .enumerate()
        .map(|(i, d)| u64::from(d - b'0') * (8 - i as u64))
        .sum();
    format!("{base}{:02}", sum % 11)
}

fn guid_text(v: u64) -> String {
    let b = v.to_be_bytes();
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join("-")
}

/// A device GUID: an OUI-like prefix per device kind, then the installation number.
fn guid_of(g: u64, device: u64) -> u64 {
    let oui: u64 = [
        0x000D_6F00,
        0x001B_C509,
        0x001B_C50A,
        0x70B3_D52E,
        0x70B3_D52F,
    ][device as usize];
    (oui << 32) | (g & 0xFFFF_FFFF)
}

fn supplier_of(party: u64, k: u64) -> String {
    format!("S{party:02}{}", (b'A' + k as u8) as char)
}

fn date(d: Day) -> String {
    d.to_string()
}

/// What `gen` wrote.
#[derive(Clone, Debug)]
pub struct Generated {
    pub inventories: Vec<PathBuf>,
    pub suppliers: PathBuf,
    pub rows: u64,
    pub bytes: u64,
}

/// Writes about `rows` device rows (installations have three devices on average) to `dir`.
pub fn generate(rows: u64, seed: u64, dir: &Path) -> io::Result<Generated> {
    fs::create_dir_all(dir.join("inventory"))?;
    let installations = rows * 100 / 305;
    let suppliers = dir.join("suppliers.csv");
    let mut reg = BufWriter::new(File::create(&suppliers)?);
    reg.write_all(b"supplier_id,party_id,name,status\n")?;
    for p in 0..PARTIES as u64 {
        let status = match p {
            3 | 17 => "ceased_trading",
            5 | 29 => "not_live_user",
            _ => "live",
        };
        for k in 0..2 + p % 3 {
            writeln!(
                reg,
                "{},P{p:03},Supplier {p} Ltd,{status}",
                supplier_of(p, k)
            )?;
        }
    }
    reg.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    fs::write(dir.join("AS_OF"), format!("{}\n", as_of()))?;

    let names: Vec<String> = SMSOS
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(std::iter::once("SMETS2".to_string()))
        .collect();
    let results: Vec<io::Result<SourceFile>> = (0..names.len())
        .into_par_iter()
        .map(|s| write_source(seed, s, &names[s], installations, dir))
        .collect();
    let mut truth = BufWriter::new(File::create(dir.join("ground_truth.csv"))?);
    truth.write_all(b"kind,source,installation_id,detail\n")?;
    let mut out = Generated {
        inventories: Vec::new(),
        suppliers,
        rows: 0,
        bytes: 0,
    };
    for r in results {
        let file = r?;
        out.inventories.push(file.path);
        out.rows += file.rows;
        out.bytes += file.bytes;
        for l in file.truth {
            truth.write_all(l.as_bytes())?;
        }
    }
    truth.flush()?;
    Ok(out)
}

/// One written inventory file: its path, rows, bytes and ground-truth lines.
struct SourceFile {
    path: PathBuf,
    rows: u64,
    bytes: u64,
    truth: Vec<String>,
}

fn write_source(
    seed: u64,
    s: usize,
    name: &str,
    installations: u64,
    dir: &Path,
) -> io::Result<SourceFile> {
    let path = dir.join("inventory").join(format!("{name}.csv"));
    let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
    w.write_all(HEADER.as_bytes())?;
    let (mut rows, mut bytes) = (0u64, HEADER.len() as u64);
    let mut truth = Vec::new();
    let as_of = as_of();
    let mut line = String::with_capacity(160);
    for g in 0..installations {
        if source_of(seed, g) != s {
            continue;
        }
        let mut d = Draw::new(seed, g);
        let smets1 = s < 4;
        let group = if smets1 {
            let groups = SMSOS[s].1;
            groups[d.below(groups.len() as u64) as usize]
        } else {
            ""
        };
        let inst = guid_text(guid_of(g, 0));
        let installed = Day::from_ymd(2012, 1, 1).0 + d.below(13 * 365) as i32;
        let last = match d.below(1000) {
            0..=799 => date(Day(as_of.0 - d.below(21) as i32)),
            800..=949 => date(Day(as_of.0 - 31 - d.below(700) as i32)),
            950..=997 => String::new(),
            998 => "2025-13-01".to_string(),
            _ => format!("{}T09:00:00Z", Day(as_of.0 + 3)),
        };
        let party = d.below(PARTIES as u64);
        let supplier = supplier_of(party, d.below(2 + party % 3));
        let dormant = if smets1 && d.chance(100_000) {
            "Y"
        } else {
            "N"
        };
        let mut push =
            |line: &mut String, w: &mut BufWriter<File>, fields: [&str; 10]| -> io::Result<()> {
                line.clear();
                line.push_str(name);
                for f in &fields[1..] {
                    line.push(',');
                    line.push_str(f);
                }
                line.push('\n');
                w.write_all(line.as_bytes())?;
                rows += 1;
                bytes += line.len() as u64;
                Ok(())
            };
        let day = date(Day(installed));
        // The comms hub.
        push(
            &mut line,
            &mut w,
            [name, group, &inst, &inst, "CHF", "", &day, &last, "", ""],
        )?;
        // The ESME (~95%).
        if d.below(100) < 95 {
            let mut mpan = mpan_of(g);
            if d.chance(5_000) {
                // Shared with an installation 1–3 numbers back (any source): groups of 2–4.
                let other = g.saturating_sub(1 + d.below(3));
                mpan = mpan_of(other);
                truth.push(format!(
                    "shared_mpan,{name},{inst},{mpan} also on installation {}\n",
                    guid_text(guid_of(other, 0))
                ));
            }
            let mut guid = guid_text(guid_of(g, 1));
            if d.chance(1_000) && g > 0 {
                guid = guid_text(guid_of(g - 1, 1));
                truth.push(format!("duplicate_guid,{name},{inst},{guid}\n"));
            }
            let spelled = match d.below(1000) {
                0 => {
                    truth.push(format!("invalid_mpan,{name},{inst},{mpan}\n"));
                    let last = (mpan.as_bytes()[12] - b'0' + 1) % 10;
                    format!("{}{last}", &mpan[..12])
                }
                1 => {
                    truth.push(format!("missing_mpxn,{name},{inst},ESME\n"));
                    String::new()
                }
                // A 21-character full MPAN: 8 characters of supplementary data, spaced.
                2..=11 => format!("01 801 234 {mpan}"),
                12..=21 => format!("{} {} {}", &mpan[..2], &mpan[2..6], &mpan[6..]),
                _ => mpan,
            };
            let sup = if d.chance(10_000) {
                format!(" {} ", supplier.to_lowercase())
            } else {
                supplier.clone()
            };
            let fields = [
                name, group, &inst, &guid, "ESME", &spelled, &day, &last, &sup, dormant,
            ];
            push(&mut line, &mut w, fields)?;
            if d.chance(500) {
                // An identical row, repeated verbatim.
                push(&mut line, &mut w, fields)?;
                truth.push(format!(
                    "identical_row,{name},{inst},ESME row written twice\n"
                ));
            }
        }
        // The GSME (~60%).
        if d.below(100) < 60 {
            let mut mprn = mprn_of(g);
            if d.chance(3_000) {
                let other = g.saturating_sub(1 + d.below(3));
                mprn = mprn_of(other);
                truth.push(format!(
                    "shared_mprn,{name},{inst},{mprn} also on installation {}\n",
                    guid_text(guid_of(other, 0))
                ));
            }
            let spelled = match d.below(1000) {
                0 => {
                    truth.push(format!("invalid_mprn,{name},{inst},{mprn}\n"));
                    format!("{}{}", &mprn[..9], (mprn.as_bytes()[9] - b'0' + 1) % 10)
                }
                1..=20 => format!("00{mprn}"),
                _ => mprn,
            };
            let guid = guid_of(g, 2);
            let guid = if d.chance(10_000) {
                guid_text(guid).to_lowercase().replace('-', ":")
            } else {
                guid_text(guid)
            };
            push(
                &mut line,
                &mut w,
                [
                    name, group, &inst, &guid, "GSME", &spelled, &day, &last, &supplier, dormant,
                ],
            )?;
        }
        // Sometimes a PPMID or an IHD.
        if d.below(100) < 30 {
            let guid = guid_text(guid_of(g, 3));
            push(
                &mut line,
                &mut w,
                [name, group, &inst, &guid, "PPMID", "", &day, &last, "", ""],
            )?;
        }
        if d.below(100) < 20 {
            let guid = if d.chance(2_000) {
                truth.push(format!("invalid_guid,{name},{inst},IHD\n"));
                "00-00-00-00-00-00-00-00".to_string()
            } else {
                guid_text(guid_of(g, 4))
            };
            push(
                &mut line,
                &mut w,
                [name, group, &inst, &guid, "IHD", "", &day, &last, "", ""],
            )?;
        }
        // Rarely, a line that must be rejected: too few fields.
        if d.chance(200) {
            line.clear();
            line.push_str(&format!("{name},{group},{inst},BROKEN-LINE\n"));
            w.write_all(line.as_bytes())?;
            rows += 1;
            bytes += line.len() as u64;
            truth.push(format!(
                "rejected_row,{name},{inst},wrong number of fields\n"
            ));
        }
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(SourceFile {
        path,
        rows,
        bytes,
        truth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{Mpan, Mprn};

    #[test]
    fn generated_identifiers_are_valid() {
        for g in [0u64, 1, 7, 1_000_003, 59_999_999] {
            assert!(
                Mpan::parse(mpan_of(g).as_bytes()).is_some(),
                "{}",
                mpan_of(g)
            );
            assert!(
                Mprn::parse(mprn_of(g).as_bytes()).is_some(),
                "{}",
                mprn_of(g)
            );
        }
        assert_eq!(guid_text(guid_of(1, 0)), "00-0D-6F-00-00-00-00-01");
    }

    #[test]
    fn draws_are_a_function_of_seed_and_installation() {
        let a: Vec<u64> = (0..5).map(|_| Draw::new(7, 42).next()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Draw::new(7, 42).next(), Draw::new(8, 42).next());
        assert_ne!(Draw::new(7, 42).next(), Draw::new(7, 43).next());
    }
}
