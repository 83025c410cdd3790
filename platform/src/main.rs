//! `tikethet`: the platform's one binary (see `tikethet --help`).

fn main() -> std::process::ExitCode {
    tikethet_platform::cli::main()
}
