//! Host ports already taken: the TCP ports some process listens on, read
//! from `/proc/net/tcp` and `/proc/net/tcp6`, so that offers leave them
//! out (a task given a port another program holds would crash-loop on
//! `Address already in use`).
//!
//! Reading `/proc` costs one read of a few kilobytes per allocation pass
//! for all nodes; probing by `bind` would cost a socket per port per pass
//! and would, for that instant, hold the very ports tasks are starting on.
//! Where `/proc/net` cannot be read (not Linux), nothing is left out.

use crate::resources::RangeSet;

/// The kernel's `TCP_LISTEN` state in `/proc/net/tcp`.
const TCP_LISTEN: &str = "0A";

/// The ports listened on, on any address, over IPv4 and IPv6.
pub fn listening() -> RangeSet {
    let mut ports = RangeSet::default();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            for port in listening_in(&text) {
                ports.insert(u64::from(port), u64::from(port));
            }
        }
    }
    ports
}

/// The local ports of the LISTEN rows of one `/proc/net/tcp*` table.
fn listening_in(table: &str) -> impl Iterator<Item = u16> + '_ {
    table.lines().skip(1).filter_map(|line| {
        let mut fields = line.split_whitespace();
        let local = fields.nth(1)?;
        let state = fields.nth(1)?;
        if state != TCP_LISTEN {
            return None;
        }
        let (_, port) = local.rsplit_once(':')?;
        u16::from_str_radix(port, 16).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listening_rows_count() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:7918 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:7919 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0000000000000000 20 4 30 10 -1
";
        assert_eq!(listening_in(table).collect::<Vec<_>>(), [31000]);
    }

    #[test]
    fn a_port_this_process_listens_on_is_seen() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let taken = listening();
        assert!(taken.contains(&RangeSet::interval(u64::from(port), u64::from(port))));
    }
}
