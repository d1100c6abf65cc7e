fn main() {
    std::process::exit(modelgate::cli::main());
}
