//! A throwaway PostgreSQL for the benchmark scripts, started as the tests start theirs
//! (crates/testkit/src/postgres.rs) but with the server's durable default settings:
//! prints the URL of a fresh database on stdout, then keeps the server until its stdin
//! closes (the script exits); the server and its directory go with this process.

use std::io::{Read, Write};

fn main() {
    let pg = peakreel_testkit::postgres::Postgres::start(&[]);
    let url = pg.fresh_database();
    let mut out = std::io::stdout();
    writeln!(out, "{url}")
        .and_then(|_| out.flush())
        .expect("stdout");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}
