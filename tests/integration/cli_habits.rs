//! Command-line habits (issue 14, item 5): `--inventory` takes several files after one
//! flag and folders (every *.csv, *.psv, *.txt in it, sorted by name); the same inputs
//! named either way write the same outputs; a folder with no inventory is refused.

use std::path::{Path, PathBuf};

use crate::util::*;

fn sample_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/sample/inventory"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
    v.sort();
    v
}

fn suppliers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/sample/suppliers.csv")
}

#[test]
fn a_folder_or_several_files_after_one_flag_are_the_same_inputs() {
    let dir = TestDir::new();
    // Repeated --inventory, the reference.
    let repeated = dir.path().join("repeated");
    let mut cmd = bin();
    cmd.args(["sweep", "--as-of", "2024-06-30", "--suppliers"])
        .arg(suppliers());
    for f in sample_files() {
        cmd.arg("--inventory").arg(f);
    }
    run_expect(cmd.arg("--out").arg(&repeated), 0);
    // Several after one flag: the very same bytes, summary.json included.
    let one_flag = dir.path().join("one-flag");
    let mut cmd = bin();
    cmd.args(["sweep", "--as-of", "2024-06-30", "--suppliers"])
        .arg(suppliers());
    cmd.arg("--inventory").args(sample_files());
    run_expect(cmd.arg("--out").arg(&one_flag), 0);
    for name in [
        "decisions.csv",
        "duplicates.csv",
        "rejects.csv",
        "summary.json",
    ] {
        assert!(
            std::fs::read(repeated.join(name)).unwrap()
                == std::fs::read(one_flag.join(name)).unwrap(),
            "{name}"
        );
    }
    // A folder (holding a note that is not an inventory, in any order on disk): the same
    // decisions and duplicates; rejects.csv names the files by the folder's path.
    let folder = dir.path().join("inventories");
    std::fs::create_dir(&folder).unwrap();
    for f in sample_files().iter().rev() {
        std::fs::copy(f, folder.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(folder.join("README.md"), "not an inventory").unwrap();
    let from_folder = dir.path().join("from-folder");
    let mut cmd = bin();
    cmd.args(["sweep", "--as-of", "2024-06-30", "--suppliers"])
        .arg(suppliers());
    cmd.arg("--inventory").arg(&folder);
    let o = run_expect(cmd.arg("--out").arg(&from_folder), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("inputs:   5 inventory file(s)"));
    for name in ["decisions.csv", "duplicates.csv"] {
        assert!(
            std::fs::read(repeated.join(name)).unwrap()
                == std::fs::read(from_folder.join(name)).unwrap(),
            "{name}"
        );
    }
    let rejects = std::fs::read_to_string(from_folder.join("rejects.csv")).unwrap();
    let expected = std::fs::read_to_string(repeated.join("rejects.csv"))
        .unwrap()
        .replace(
            &format!("{}/", sample_files()[0].parent().unwrap().display()),
            &format!("{}/", folder.display()),
        );
    assert_eq!(rejects, expected);
    // index build takes a folder too, and sweeps to the same decisions.
    let index = dir.path().join("i.mxi");
    let mut cmd = bin();
    cmd.args(["index", "build", "--quiet", "--suppliers"])
        .arg(suppliers());
    cmd.arg("--inventory").arg(&folder).arg("--out").arg(&index);
    run_expect(&mut cmd, 0);
    let from_index = dir.path().join("from-index");
    let mut cmd = bin();
    cmd.args(["sweep", "--as-of", "2024-06-30", "--index"])
        .arg(&index);
    run_expect(cmd.arg("--out").arg(&from_index), 0);
    assert!(
        std::fs::read(from_index.join("decisions.csv")).unwrap()
            == std::fs::read(repeated.join("decisions.csv")).unwrap()
    );

    // A folder with no inventory in it: refused, naming it, nothing written.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("notes.md"), "x").unwrap();
    let mut cmd = bin();
    cmd.args(["sweep", "--suppliers"]).arg(suppliers());
    cmd.arg("--inventory")
        .arg(&empty)
        .arg("--out")
        .arg(dir.path().join("none"));
    let o = run_expect(&mut cmd, 2);
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("the folder holds no *.csv, *.psv or *.txt file"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!dir.path().join("none").exists());
}

#[test]
fn completions_a_man_page_and_a_top_level_help_that_fits_a_screen() {
    let stdout = |args: &[&str]| {
        let o = run_expect(bin().args(args), 0);
        String::from_utf8(o.stdout).unwrap()
    };
    let bash = stdout(&["completions", "bash"]);
    assert!(
        bash.contains("_mpxn__recon()") && bash.contains("explain") && bash.contains("--what-if"),
        "{bash}"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(
            stdout(&["completions", shell]).contains("mpxn-recon"),
            "{shell}"
        );
    }
    run_expect(bin().args(["completions", "tcsh"]), 2);
    let man = stdout(&["man"]);
    assert!(
        man.starts_with(".ie \\n(.g .ds Aq \\(aq") || man.contains(".TH mpxn-recon 1"),
        "{}",
        &man[..200.min(man.len())]
    );
    for page in [
        "mpxn-recon-sweep",
        "mpxn-recon-explain",
        "mpxn-recon-diff",
        "mpxn-recon-portfolio",
    ] {
        assert!(man.contains(&format!(".TH {page} ")), "{page}");
    }
    // The top-level help: one short line per command, within 40 lines of 100 columns.
    let help = stdout(&["--help"]);
    assert!(help.lines().count() <= 40, "{help}");
    assert!(help.lines().all(|l| l.chars().count() <= 100), "{help}");
    for command in [
        "sweep",
        "index",
        "lookup",
        "portfolio",
        "explain",
        "diff",
        "completions",
        "man",
        "gen",
    ] {
        assert!(help.contains(&format!("  {command} ")), "{command}: {help}");
    }
}

#[test]
fn quiet_sweeps_and_a_portfolio_to_standard_output() {
    let dir = TestDir::new();
    let root = env!("CARGO_MANIFEST_DIR");
    // --quiet: nothing on stdout, the same outputs.
    let mut cmd = bin();
    cmd.current_dir(root)
        .args(["sweep", "--quiet", "--as-of", "2024-06-30", "--out"])
        .arg(dir.path().join("quiet"));
    let o = run_expect(&mut cmd, 0);
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(
        std::fs::read(dir.path().join("quiet/decisions.csv")).unwrap(),
        std::fs::read(Path::new(root).join("datasets/sample/expected/decisions.csv")).unwrap()
    );
    // portfolio --out -: the report on stdout, the same bytes as the file, status on stderr.
    let index = dir.path().join("i.mxi");
    let mut cmd = bin();
    cmd.args(["index", "build", "--quiet", "--suppliers"])
        .arg(suppliers());
    cmd.arg("--inventory")
        .args(sample_files())
        .arg("--out")
        .arg(&index);
    run_expect(&mut cmd, 0);
    let file = dir.path().join("p.csv");
    let portfolio = |out: &Path| {
        let mut cmd = bin();
        cmd.args([
            "portfolio",
            "--as-of",
            "2024-06-30",
            "--party",
            "P0101",
            "--index",
        ])
        .arg(&index)
        .arg("--out")
        .arg(out);
        run_expect(&mut cmd, 0)
    };
    portfolio(&file);
    let o = portfolio(Path::new("-"));
    assert_eq!(o.stdout, std::fs::read(&file).unwrap());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("standard output: "),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!Path::new("-").exists(), "no file named -");
}

/// Progress shows on a terminal only, never with --quiet, and never in a pipe. `script`
/// (util-linux) gives the command a terminal; the test is skipped, saying so, without it.
/// The delay before the line appears is set to 0, so the sample's short stages show.
#[test]
fn progress_shows_on_a_terminal_and_never_in_a_pipe_or_with_quiet() {
    let dir = TestDir::new();
    let exe = env!("CARGO_BIN_EXE_mpxn-recon");
    let sweep = |out: &str, quiet: bool| {
        format!(
            "{exe} sweep --as-of 2024-06-30 --inventory {} --suppliers {} --out {}{}",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("datasets/sample/inventory")
                .display(),
            suppliers().display(),
            dir.path().join(out).display(),
            if quiet { " --quiet" } else { "" }
        )
    };
    // In a pipe: stderr holds no progress text and no terminal escape.
    let piped = std::process::Command::new("sh")
        .arg("-c")
        .arg(sweep("piped", false))
        .env("MPXN_RECON_PROGRESS_DELAY_MS", "0")
        .output()
        .unwrap();
    assert!(piped.status.success());
    let err = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !err.contains("parse chunks") && !err.contains('\u{1b}'),
        "no progress in a pipe:\n{err}"
    );
    let on_terminal = |command: String| -> Option<String> {
        let out = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("MPXN_RECON_PROGRESS_DELAY_MS", "0")
            .env("COLUMNS", "120")
            .output()
            .ok()?;
        assert!(out.status.success(), "{command}: {out:?}");
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let Some(shown) = on_terminal(sweep("tty", false)) else {
        eprintln!("skipped: no `script` (util-linux) to give the sweep a terminal");
        return;
    };
    assert!(
        shown.contains("ingest: parse chunks") || shown.contains("parsing "),
        "a terminal shows the stages' progress:\n{shown}"
    );
    assert!(
        shown.contains("outcomes:"),
        "and the summary after it:\n{shown}"
    );
    let quiet = on_terminal(sweep("tty-quiet", true)).unwrap();
    assert!(
        !quiet.contains("parse chunks") && !quiet.contains("parsing "),
        "--quiet shows no progress:\n{quiet}"
    );
}

/// `--color auto|always|never`, anywhere on the line, for clap's help and errors and for
/// our `refused:` / `warning:` labels; `auto` colours a terminal unless `NO_COLOR` is set,
/// and a flag overrides `NO_COLOR`.
#[test]
fn color_follows_the_flag_the_terminal_and_no_color() {
    const ESC: char = '\u{1b}';
    let refused = |extra: &[&str], no_color: bool| -> String {
        let mut cmd = bin();
        cmd.args(["sweep", "--suppliers", "x.csv"]).args(extra);
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let plain = refused(&[], false);
    assert!(
        plain.contains("mpxn-recon: refused: ") && !plain.contains(ESC),
        "a pipe gets no colour by default:\n{plain}"
    );
    let always = refused(&["--color", "always"], false);
    assert!(
        always.contains(&format!("{ESC}[1m{ESC}[31mrefused{ESC}[0m")),
        "--color always colours the label:\n{always:?}"
    );
    assert!(
        refused(&["--color=always"], true).contains(ESC),
        "a flag overrides NO_COLOR"
    );
    assert!(!refused(&["--color", "never"], false).contains(ESC));

    // clap's help and usage errors follow the flag too.
    let help = |args: &[&str]| {
        let out = bin().args(args).env_remove("NO_COLOR").output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    assert!(help(&["--color", "always", "--help"]).contains(ESC));
    assert!(!help(&["--color", "never", "--help"]).contains(ESC));
    assert!(help(&["sweep", "--bogus", "--color", "always"]).contains(ESC));
    let bad = bin()
        .args(["sweep", "--color", "sometimes"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "an unknown --color is refused");

    // The sample's sweep warns (dates after its as-of date): yellow with --color always.
    let dir = TestDir::new();
    let out = bin()
        .current_dir(crate_root())
        .args(["sweep", "--quiet", "--color", "always", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{ESC}[1m{ESC}[33mwarning{ESC}[0m: ")),
        "the warning label is coloured:\n{err:?}"
    );

    // auto: a terminal is coloured, unless NO_COLOR is set.
    let on_terminal = |no_color: bool| -> Option<String> {
        let exe = env!("CARGO_BIN_EXE_mpxn-recon");
        let mut cmd = std::process::Command::new("script");
        cmd.args([
            "-qec",
            &format!("{exe} sweep --suppliers x.csv"),
            "/dev/null",
        ]);
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let out = cmd.output().ok()?;
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let Some(tty) = on_terminal(false) else {
        eprintln!("skipped the terminal half: no `script` (util-linux)");
        return;
    };
    assert!(tty.contains(ESC), "auto colours a terminal:\n{tty:?}");
    let tty_no_color = on_terminal(true).unwrap();
    assert!(
        tty_no_color.contains("refused") && !tty_no_color.contains(ESC),
        "NO_COLOR turns auto off:\n{tty_no_color:?}"
    );
}
