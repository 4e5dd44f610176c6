//! Rung 05: pulling images from a registry, and running them with rung
//! 04's runtime. (Being written: see chapter 5.)

fn main() {
    eprintln!("step-05: being written; see chapter 5");
    std::process::exit(2);
}
