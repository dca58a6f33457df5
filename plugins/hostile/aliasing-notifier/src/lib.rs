//! `aliasing-notifier`: a hostile notifier whose notifications all point at one buffer.
//!
//! The canonical ABI passes a string as a pointer and a length into the guest's memory, and
//! nothing stops two strings from pointing at the same bytes. This notifier returns 4,096
//! notifications whose bodies all alias a single 1 MiB buffer: 4 GiB for the host to copy, from
//! 1 MiB of guest memory. A host that copied everything before checking its output cap would
//! spend that memory; the host must stop copying near the cap and report `output-too-large`.
//!
//! Safe Rust cannot alias strings, so `on-plan-shared` is written by hand against the
//! canonical ABI: `wit-bindgen` generates the rest of the component (`skip` leaves that one
//! export to this file).

wit_bindgen::generate!({
    path: "../../../wit/v0.1.0",
    world: "notifier-plugin",
    skip: ["on-plan-shared"],
    generate_all,
});

use cs::plugin::types::PluginInfo;

/// How many notifications it returns, and the size of the buffer they share.
const COUNT: usize = 4096;
const BODY: usize = 1 << 20;

struct AliasingNotifier;

impl exports::cs::plugin::metadata::Guest for AliasingNotifier {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "aliasing-notifier".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Hostile: returns notifications whose bodies alias one buffer".to_owned(),
            capabilities: Vec::new(),
            config: Vec::new(),
            reads: Vec::new(),
            reads_source: false,
        }
    }
}

export!(AliasingNotifier);

/// A `notification` as the canonical ABI lays it out: the `channel` enum in a byte, then three
/// strings as (pointer, length) pairs.
#[repr(C)]
struct RawNotification {
    channel: u8,
    recipient: (u32, u32),
    subject: (u32, u32),
    body: (u32, u32),
}

/// `result<list<notification>, plugin-error>` as returned through memory: the case in a byte,
/// then the list as (pointer, length).
#[repr(C)]
struct RawResult {
    case: u8,
    list: (u32, u32),
}

/// `on-plan-shared`, by hand. Its parameters do not fit in registers, so the host passes them in
/// memory, through the one pointer this ignores; the result is returned through memory too.
///
/// # Safety
///
/// Called by the component's glue only, once per call.
#[unsafe(export_name = "cs:plugin/notifier@0.1.0#on-plan-shared")]
pub unsafe extern "C" fn on_plan_shared(_params: *mut u8) -> *mut u8 {
    let recipient: &'static str = "pat@globex.example";
    let body: &'static mut [u8] = vec![b'x'; BODY].leak();
    let pair = |bytes: &[u8]| (bytes.as_ptr() as u32, bytes.len() as u32);
    let notifications: &'static mut [RawNotification] = (0..COUNT)
        .map(|_| RawNotification {
            channel: 0,
            recipient: pair(recipient.as_bytes()),
            subject: pair(recipient.as_bytes()),
            // Every body is the same megabyte.
            body: pair(body),
        })
        .collect::<Vec<_>>()
        .leak();
    let result = Box::leak(Box::new(RawResult {
        case: 0,
        list: (notifications.as_ptr() as u32, COUNT as u32),
    }));
    (result as *mut RawResult).cast()
}
