//! Bounce classification accuracy on the labelled bounces kept with the
//! deliverability crate (crates/deliverability/tests/fixtures/bounces):
//! per expected class, right/total and accuracy, then every miss.
//!
//!   cargo run -p estafeta-bench --bin bounce-eval [--smoke] [--dir DIR]

use estafeta_bench::arg;
use estafeta_deliverability::bounce::eval::evaluate;

fn main() {
    let default = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/deliverability/tests/fixtures/bounces"
    );
    let dir: String = arg("--dir", default.to_owned());
    let evaluation = evaluate(std::path::Path::new(&dir)).expect("read the labelled bounces");
    println!("bounce-eval: {} labelled outcomes in {dir}", evaluation.cases.len());
    print!("{}", evaluation.table());
}
