//! `scim-appliance`: see the library crate for everything but argument parsing.

fn main() -> std::process::ExitCode {
    scim_appliance::cli::main()
}
