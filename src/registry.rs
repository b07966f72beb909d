//! The supplier registry: supplier ids → SEC parties and their status (SPEC §3.2).
//!
//! Takes the registry file's bytes; hands on a [`Registry`] that maps a trimmed,
//! case-insensitive `supplier_id` to a party index, and each party to its id and
//! [`SupplierStatus`]. It is small (hundreds of rows) and read once, before any
//! inventory row, because a bad registry refuses the whole run: an empty id, an unknown
//! status, one supplier id mapped to two parties, or one party with two statuses — each
//! reported with the file and line.

use std::path::Path;

use hashbrown::HashMap;

use crate::delimited::{line_at, split_line, Header, InputError};
use crate::mapped::MappedFile;
use crate::normalize::trim;

/// The party index of a supplier id that is empty or not in the registry.
pub const UNKNOWN_PARTY: u32 = u32::MAX;

/// A party's standing as a DCC User.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupplierStatus {
    Live,
    /// Ceased trading: TMAD 4.1A for dormant meters.
    CeasedTrading,
    /// Not a live DCC User: TMAD 4.1B for dormant meters.
    NotLiveUser,
}

impl SupplierStatus {
    fn parse(s: &[u8]) -> Option<SupplierStatus> {
        [
            (&b"live"[..], SupplierStatus::Live),
            (b"ceased_trading", SupplierStatus::CeasedTrading),
            (b"not_live_user", SupplierStatus::NotLiveUser),
        ]
        .into_iter()
        .find(|(name, _)| s.eq_ignore_ascii_case(name))
        .map(|(_, status)| status)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SupplierStatus::Live => "live",
            SupplierStatus::CeasedTrading => "ceased_trading",
            SupplierStatus::NotLiveUser => "not_live_user",
        }
    }
}

/// One SEC party.
#[derive(Clone, Debug)]
pub struct Party {
    /// Trimmed, case-sensitive.
    pub id: String,
    pub status: SupplierStatus,
    /// Its distinct trimmed `name`s over its supplier ids, sorted (so row order does not
    /// matter) and joined with ` / `; empty when every row leaves it empty.
    pub name: String,
    /// The names as read, until the registry is complete.
    names: Vec<String>,
}

/// The loaded registry. Lookups take a trimmed supplier id and a scratch buffer for its
/// upper-cased form, so they allocate nothing.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    parties: Vec<Party>,
    by_supplier: HashMap<Box<[u8]>, u32>,
    /// CRC-32C and size of the file, for summary.json.
    pub checksum: u32,
    pub size: u64,
}

const COLUMNS: [&str; 4] = ["supplier_id", "party_id", "name", "status"];

/// One registry line, split and checked on its own (UTF-8, quoting, field count, empty
/// ids, status), in that order.
struct RegistryRow {
    /// Upper-cased, as lookups compare it.
    supplier: Vec<u8>,
    supplier_as_given: String,
    party: String,
    name: String,
    status: SupplierStatus,
}

impl RegistryRow {
    fn split(
        line: &[u8],
        header: &Header,
        [supplier_col, party_col, name_col, status_col]: [usize; 4],
        scratch: &mut Vec<u8>,
        fields: &mut Vec<crate::delimited::Field>,
    ) -> Result<RegistryRow, String> {
        if std::str::from_utf8(line).is_err() {
            return Err("undecodable bytes".into());
        }
        split_line(line, header.delimiter, scratch, fields).map_err(|r| r.as_str().to_string())?;
        if fields.len() != header.field_count {
            return Err(format!(
                "wrong number of fields: expected {}, got {}",
                header.field_count,
                fields.len()
            ));
        }
        let get = |i: usize| trim(fields[i].bytes(line, scratch));
        // Valid UTF-8: the whole line was checked above.
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let supplier = get(supplier_col).to_ascii_uppercase();
        let party = text(get(party_col));
        let name = text(get(name_col));
        let status_text = get(status_col);
        if supplier.is_empty() {
            return Err("empty supplier_id".into());
        }
        if party.is_empty() {
            return Err("empty party_id".into());
        }
        let status = SupplierStatus::parse(status_text).ok_or_else(|| {
            format!(
                "unknown status `{}`; expected live, ceased_trading or not_live_user",
                text(status_text)
            )
        })?;
        Ok(RegistryRow {
            supplier,
            supplier_as_given: text(get(supplier_col)),
            party,
            name,
            status,
        })
    }
}

impl Registry {
    /// Maps and reads the registry file.
    pub fn open(path: &Path) -> Result<Registry, InputError> {
        let bytes = MappedFile::open(path).map_err(|e| InputError::io(path, e))?;
        Registry::parse(path, &bytes)
    }

    /// Reads a registry from bytes (`path` is only for messages).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Registry, InputError> {
        let header = Header::parse(path, bytes, &COLUMNS, &[true; 4])?;
        let column = |i: usize| header.positions[i].expect("required columns are present");
        let columns = [column(0), column(1), column(2), column(3)];
        let mut registry = Registry {
            checksum: crc32c::crc32c(bytes),
            size: bytes.len() as u64,
            ..Registry::default()
        };
        let mut party_index: HashMap<String, u32> = HashMap::new();
        let mut scratch = Vec::new();
        let mut fields = Vec::new();
        let mut offset = header.body_start;
        let mut line_no = 1u64;
        while offset < bytes.len() {
            let (line, next) = line_at(bytes, offset);
            offset = next;
            line_no += 1;
            let refuse = |problem: String| InputError::Registry {
                path: path.to_path_buf(),
                line: line_no,
                problem,
            };
            if trim(line).is_empty() {
                // Editors and exports often leave blank lines at the end: tolerated
                // there. A blank line before another row is a hole in the registry.
                if bytes[offset..]
                    .iter()
                    .all(|&b| crate::normalize::is_space(b))
                {
                    break;
                }
                return Err(refuse(
                    "blank line; a registry may end in blank lines but not hold one before a row"
                        .into(),
                ));
            }
            let row = RegistryRow::split(line, &header, columns, &mut scratch, &mut fields)
                .map_err(refuse)?;
            registry.add(row, &mut party_index).map_err(refuse)?;
        }
        for party in &mut registry.parties {
            let mut names = std::mem::take(&mut party.names);
            names.sort();
            names.dedup();
            names.retain(|n| !n.is_empty());
            party.name = names.join(" / ");
        }
        Ok(registry)
    }

    /// Adds one row's mapping: a party seen before must carry the same status, a supplier
    /// id seen before must map to the same party (the same mapping twice is fine).
    fn add(
        &mut self,
        row: RegistryRow,
        party_index: &mut HashMap<String, u32>,
    ) -> Result<(), String> {
        let index = match party_index.get(&row.party) {
            Some(&i) => {
                let known = self.parties[i as usize].status;
                if known != row.status {
                    return Err(format!(
                        "party `{}` is listed as both {} and {}",
                        row.party,
                        known.as_str(),
                        row.status.as_str()
                    ));
                }
                self.parties[i as usize].names.push(row.name);
                i
            }
            None => {
                let i = self.parties.len() as u32;
                self.parties.push(Party {
                    id: row.party.clone(),
                    status: row.status,
                    name: String::new(),
                    names: vec![row.name],
                });
                party_index.insert(row.party, i);
                i
            }
        };
        match self.by_supplier.get(row.supplier.as_slice()) {
            Some(&other) if other != index => Err(format!(
                "supplier id `{}` is mapped to two parties, `{}` and `{}`",
                row.supplier_as_given,
                self.parties[other as usize].id,
                self.parties[index as usize].id
            )),
            Some(_) => Ok(()),
            None => {
                self.by_supplier
                    .insert(row.supplier.into_boxed_slice(), index);
                Ok(())
            }
        }
    }

    /// The party index of a (trimmed) supplier id, or [`UNKNOWN_PARTY`] when it is empty
    /// or not in the registry. `scratch` holds the upper-cased id.
    pub fn party_of(&self, supplier: &[u8], scratch: &mut Vec<u8>) -> u32 {
        if supplier.is_empty() {
            return UNKNOWN_PARTY;
        }
        scratch.clear();
        scratch.extend(supplier.iter().map(u8::to_ascii_uppercase));
        self.by_supplier
            .get(scratch.as_slice())
            .copied()
            .unwrap_or(UNKNOWN_PARTY)
    }

    pub fn party(&self, index: u32) -> Option<&Party> {
        self.parties.get(index as usize)
    }

    pub fn parties(&self) -> &[Party] {
        &self.parties
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Registry, InputError> {
        Registry::parse(Path::new("suppliers.csv"), text.as_bytes())
    }

    #[test]
    fn several_ids_one_party_case_insensitive() {
        let r = parse(
            "supplier_id,party_id,name,status\n\
             ABCD,P1,Alpha,live\n\
             abce , P1 ,Alpha 2,LIVE\n\
             ZZZZ,P2,Zed,ceased_trading\n\
             ABCD,P1,Alpha,live\n",
        )
        .unwrap();
        let mut s = Vec::new();
        let a = r.party_of(b"abcd", &mut s);
        assert_eq!(a, r.party_of(b"ABCE", &mut s));
        assert_eq!(r.party(a).unwrap().id, "P1");
        let z = r.party_of(b"zzzz", &mut s);
        assert_eq!(r.party(z).unwrap().status, SupplierStatus::CeasedTrading);
        assert_eq!(r.party_of(b"", &mut s), UNKNOWN_PARTY);
        assert_eq!(r.party_of(b"NOPE", &mut s), UNKNOWN_PARTY);
    }

    #[test]
    fn party_ids_are_case_sensitive() {
        let r = parse("supplier_id,party_id,name,status\nA,p1,x,live\nB,P1,y,ceased_trading\n")
            .unwrap();
        assert_eq!(r.parties().len(), 2);
    }

    #[test]
    fn a_partys_name_is_its_distinct_names_sorted_whatever_the_row_order() {
        for rows in [
            "A,p1,Beta Ltd,live\nB,p1,Alpha,live\nC,p1, Alpha ,live\nD,p2,,live\n",
            "D,p2,,live\nC,p1,Alpha,live\nB,p1,Beta Ltd,live\nA,p1,Alpha,live\n",
        ] {
            let r = parse(&format!("supplier_id,party_id,name,status\n{rows}")).unwrap();
            let name = |id: &str| {
                r.parties()
                    .iter()
                    .find(|p| p.id == id)
                    .map(|p| p.name.clone())
            };
            assert_eq!(name("p1").as_deref(), Some("Alpha / Beta Ltd"), "{rows}");
            assert_eq!(name("p2").as_deref(), Some(""), "{rows}");
        }
    }

    #[test]
    fn refusals_name_the_line() {
        let cases = [
            ("A,P1,x,live\nB,,y,live\n", 3, "empty party_id"),
            (",P1,x,live\n", 2, "empty supplier_id"),
            ("A,P1,x,dormant\n", 2, "unknown status `dormant`"),
            (
                "A,P1,x,live\nB,P1,y,not_live_user\n",
                3,
                "listed as both live and not_live_user",
            ),
            (
                "A,P1,x,live\na,P2,y,live\n",
                3,
                "mapped to two parties, `P1` and `P2`",
            ),
            ("A,P1,x\n", 2, "wrong number of fields"),
        ];
        for (body, line, needle) in cases {
            let text = format!("supplier_id,party_id,name,status\n{body}");
            let err = parse(&text).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("suppliers.csv:{line}: ")) && msg.contains(needle),
                "{body:?} gave {msg}"
            );
        }
        let err = parse("supplier_id,party_id,status\n").unwrap_err();
        assert!(err.to_string().contains("required column `name`"));
    }
}
