#!/usr/bin/env python3
"""Writes the text seeds of the `inventory_lines` and `registry` fuzz targets.

Seeds: the sample's inventories and registry (datasets/sample), plus small hostile
cases restated from tests/integration/bad_input.rs and refusals.rs (BOMs, CR/LF
mixes, bad quoting, undecodable bytes, NULs, wrong field counts, pipes, refused
headers and registry rows). No seed is empty (afl-fuzz skips empty files). Each seed is kept small (the fuzzer mutates them; the big
cases of the tests — 1 MiB header names, 10k columns — are cut down).

Run from the repository root: python3 fuzz/seeds/make_text_seeds.py
The .mxi seeds of `index_reader` are built by the `mkseeds` binary (scripts/fuzz.sh).
"""

import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = os.path.join(ROOT, "fuzz", "seeds")
SAMPLE = os.path.join(ROOT, "datasets", "sample")

HEADER = (b"source,group_id,installation_id,device_id,device_type,mpxn,"
          b"installed_on,last_comms_at,supplier_id,dormant")
ROW = b"SMSO-A,AA,A1,00-1B-C5-09-00-00-00-01,ESME,1016607405449,2020-01-01,2024-06-20,LIVE1,N"
CHF = b"SMSO-A,AA,A1,00-0D-6F-00-00-00-00-01,CHF,,2020-01-01,2024-06-20,,"
REGISTRY = (b"supplier_id,party_id,name,status\n"
            b"LIVE1,P-LIVE,Live Energy Ltd,live\n"
            b"LIVE2,P-LIVE,Live Energy Ltd,live\n"
            b"GONE,P-GONE,Gone Power plc,ceased_trading\n"
            b"NOTLIVE,P-NOTLIVE,Not Live Gas Ltd,not_live_user\n")


def body(*lines):
    return HEADER + b"\n" + b"".join(l + b"\n" for l in lines)


INVENTORY = {
    "only-lf": b"\n",
    "only-crlf": b"\r\n",
    "bom-only": b"\xef\xbb\xbf",
    "two-boms": b"\xef\xbb\xbf\xef\xbb\xbf" + HEADER + b"\n",
    "header-only": HEADER + b"\n",
    "header-no-newline": HEADER,
    "header-bom-crlf": b"\xef\xbb\xbf" + HEADER + b"\r\n",
    "nul-only": b"\0" * 64,
    "nul-in-header": b"source\0" + HEADER[6:] + b"\n",
    "lone-crs": HEADER + b"\r" + ROW + b"\r" + ROW + b"\r",
    "cr-lf-cr": HEADER + b"\r\n\r" + ROW + b"\r\r\n",
    "header-bad-utf8": b"sou\xffrce" + HEADER[6:],
    "only-quotes": b'"""""\n"""\n"',
    "unclosed-quote-header": b'"' + HEADER,
    "binary": bytes(range(256)),
    "delimiters-only": b",,,,,,,,,\n,,,,,,,,,\n|||||||||\n",
    "pipes-in-rows": body(ROW.replace(b",", b"|")),
    "pipe-header": HEADER.replace(b",", b"|") + b"\n" + ROW.replace(b",", b"|") + b"\n",
    "ambiguous-delimiter": HEADER.replace(b"source,", b"source|") + b"\n",
    "missing-column": HEADER.replace(b",mpxn", b"") + b"\n",
    "duplicate-column": HEADER + b",SOURCE\n",
    "optional-missing": HEADER.replace(b",last_comms_at", b"").replace(b",dormant", b"") + b"\n",
    "many-unknown-columns": b",".join(b"c%d" % i for i in range(64)) + b"\n",
    "long-header-name": b"x" * 300 + b"," + HEADER + b"\n",
    "clean-installation": body(CHF, ROW),
    "identical-rows": body(CHF, ROW, ROW),
    "undecodable-fields": body(
        CHF, ROW,
        b"SMSO-A,AA,A1,70B3D52E00000001,IHD,,2020-01-01,2024-06-20,Caf\xe9,",
        b"SMSO-A,AA,A1,70B3D52E00000002,IHD,,2020-01-01,2024-06-20,\xf0\x9f\x98,",
        b"SMSO-A,AA,A1,70B3D52E00000003,IHD,,2020-01-01,2024-06-20,\xc0\xaf,",
        b"SMSO-A,AA,\x80A1,70B3D52E00000004,IHD,,2020-01-01,2024-06-20,,"),
    "nul-in-fields": body(
        b"SMSO-A,AA,A\x001,00-0D-6F-00-00-00-00-01,CHF,,2020-01-01,2024-06-20,,",
        b"SMSO-A,AA,A\x001,\x00\x00,IHD,,2020-01-01,2024-06-20,,"),
    "empty-lines": body(b"", b"", b"", ROW, b""),
    "reject-reasons-in-order": body(
        b'"\xff,AA',
        b'"SMSO-A"x,,,,,,,,,',
        b",,,",
        b" \t,AA, ,00-1B-C5-09-00-00-00-01,IHD,,2020-01-01,,,",
        b"SMSO-A,AA,\x0b\x0c,00-1B-C5-09-00-00-00-02,IHD,,2020-01-01,,,"),
    "quoting": body(
        b'"SMSO-A","AA","A""1",00-0D-6F-00-00-00-00-01,CHF,,2020-01-01,2024-06-20,,',
        b'"SMSO-A",AA,"A""1",00-1B-C5-09-00-00-00-01,"ESME"," 1016607405449 ",2020-01-01,,"LIVE1","Y"',
        b'SMSO-A,AA, "A2",00-0D-6F-00-00-00-00-02,CHF,,2020-01-01,2024-06-20,,',
        b'SMSO-A,AA,"A3" ,00-0D-6F-00-00-00-00-03,CHF,,2020-01-01,2024-06-20,,'),
    "shared-mpxn-two-smsos": body(
        CHF, ROW,
        b"SMSO-B,BB,B1,00-0D-6F-00-00-00-00-09,CHF,,2021-01-01,2024-06-29,,",
        b"SMSO-B,BB,B1,00-1B-C5-09-00-00-00-09,ESME,1016607405449,2021-01-01,2024-06-29,GONE,Y",
        b"SMETS2,,S1,00-0D-6F-00-00-00-00-0A,CHF,,2023-01-01,2024-06-30,,",
        b"smets2,,S1,00-1B-C5-09-00-00-00-0A,GSME,1234567890,2023-01-01,2024-07-30,NOTLIVE,N"),
    "dates-and-ids": body(
        b"SMSO-A,AA,A9,00:1b:c5:09:00:00:00:10,ESME,14-7171-7757-180,2024-02-29,2023-02-29,LIVE2,n",
        b"SMSO-A,AA,A9,001BC50900000011,GSME,0924017900,20240101,,live2,y",
        b"SMSO-A,,A9,00-1B-C5-09-00-00-00-12,ESME,00 801 101 1016607405449,2024-13-01,2024-06-31,,maybe"),
}

REGISTRY_SEEDS = {
    "standard": REGISTRY,
    "header-only": b"supplier_id,party_id,name,status\n",
    "missing-column": b"supplier_id,party_id,status\n",
    "duplicate-column": b"supplier_id,party_id,name,STATUS,status\nLIVE1,P-LIVE,Live,live,live\n",
    "empty-supplier": REGISTRY + b"  ,P-NEW,New Ltd,live\n",
    "empty-party": REGISTRY + b"NEW1, \t,New Ltd,live\n",
    "unknown-status": REGISTRY + b"NEW1,P-NEW,New Ltd,active\n",
    "empty-status": REGISTRY + b"NEW1,P-NEW,New Ltd,\n",
    "two-parties": REGISTRY + b" live1 ,P-OTHER,Other Ltd,live\n",
    "two-statuses": REGISTRY + b"GONE2,P-GONE,Gone Power plc,live\n",
    "wrong-field-count": REGISTRY + b"A,P1,x\n",
    "undecodable": REGISTRY + b"CAF\xe9,P-CAFE,Cafe,live\n",
    "bad-quoting": REGISTRY + b'"A,P1,x,live\n',
    "readings-not-errors": REGISTRY + b" live1 ,P-LIVE,Live Energy Ltd,LIVE\nLIVE3,p-live,Other Ltd,Ceased_Trading\n",
    "bom-crlf-pipes-quoted": ("\ufeffStatus|\"Party_ID\"|extra|NAME|Supplier_ID\r\n"
                              "live|P-LIVE||\"Live | Energy\"|\"LIVE1\"\r\n"
                              "ceased_trading|P-GONE|x|Gone|live3").encode(),
    "sample-ids": (b"supplier_id,party_id,name,status\n"
                   b"NWNE,P0101,Northwind,live\nBRGT,P0102,Brightwater,not_live_user\n"
                   b"OLDSUP,P0103,Old,ceased_trading\nEVRG,P0104,Evergreen,ceased_trading\n"),
}


def write(target, name, data):
    path = os.path.join(SEEDS, target, name)
    with open(path, "wb") as f:
        f.write(data)


def main():
    for target in ("inventory_lines", "registry"):
        os.makedirs(os.path.join(SEEDS, target), exist_ok=True)
    inv_dir = os.path.join(SAMPLE, "inventory")
    for name in sorted(os.listdir(inv_dir)):
        shutil.copyfile(os.path.join(inv_dir, name),
                        os.path.join(SEEDS, "inventory_lines", "sample-" + name))
    for name, data in INVENTORY.items():
        write("inventory_lines", name + ".csv", data)
    shutil.copyfile(os.path.join(SAMPLE, "suppliers.csv"),
                    os.path.join(SEEDS, "registry", "sample-suppliers.csv"))
    for name, data in REGISTRY_SEEDS.items():
        write("registry", name + ".csv", data)


if __name__ == "__main__":
    main()
