//! How long loading the contract takes: parse every file of `specs/`, check it, flatten the
//! resources and compile every validator, as `Spec::builtin()` does once per process. The issue
//! asks for well under 100 ms in a release build; `cargo bench --bench spec_load` prints the
//! figure (min / median / max over N runs).

use ontap_conform::spec::{Spec, embedded_files};
use std::time::{Duration, Instant};

const N: usize = 200;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let files = embedded_files();
    let mut times = Vec::with_capacity(N);
    for _ in 0..N {
        let input = files.clone();
        let start = Instant::now();
        let spec = Spec::from_files("built-in", input).expect("the built-in specs/ load");
        times.push(start.elapsed());
        std::hint::black_box(&spec);
    }
    times.sort();
    let spec = Spec::from_files("built-in", files.clone()).expect("load");
    println!(
        "spec_load: {} files ({} schemas, {} endpoints), {N} runs of Spec::from_files: min {:.2} ms, median {:.2} ms, max {:.2} ms",
        files.len(),
        spec.schemas.len(),
        spec.endpoints.len(),
        ms(times[0]),
        ms(times[N / 2]),
        ms(times[N - 1]),
    );
}
