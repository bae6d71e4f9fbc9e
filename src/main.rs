fn main() {
    std::process::exit(w2v_gpu::cli::run());
}
