//! Host ports already taken: the TCP ports some process listens on, so
//! that offers leave them out (a task given a port another program holds
//! would crash-loop on `Address already in use`).
//!
//! They are asked of the kernel over netlink (`NETLINK_SOCK_DIAG`, what
//! `ss -l` uses), for listening sockets only, which walks the kernel's
//! table of listening sockets alone. `/proc/net/tcp` is read only where
//! that fails: reading it walks every bucket of the table of connected
//! sockets, however empty (7 ms per read on a 24 GB machine), and the
//! allocation pass that asks runs under the master's lock. Probing by
//! `bind` would cost a socket per port per pass and would, for that
//! instant, hold the very ports tasks are starting on. Where neither can
//! be read (not Linux), nothing is left out.

use crate::resources::RangeSet;

/// The kernel's `TCP_LISTEN` state in `/proc/net/tcp`.
const TCP_LISTEN: &str = "0A";

/// The ports listened on, on any address, over IPv4 and IPv6.
pub fn listening() -> RangeSet {
    let mut ports = RangeSet::default();
    match sock_diag::listening_ports() {
        Ok(found) => {
            for port in found {
                ports.insert(u64::from(port), u64::from(port));
            }
        }
        Err(_) => {
            for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
                if let Ok(text) = std::fs::read_to_string(table) {
                    for port in listening_in(&text) {
                        ports.insert(u64::from(port), u64::from(port));
                    }
                }
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

/// The listening TCP sockets, asked of the kernel's socket diagnostics
/// over netlink (`linux/inet_diag.h`).
mod sock_diag {
    use std::io;
    use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    const NLMSG_ERROR: u16 = 0x2;
    const NLMSG_DONE: u16 = 0x3;
    const HEADER: usize = 16;
    /// `struct inet_diag_req_v2`: family, protocol, extensions, padding,
    /// the states wanted, and a socket id (48 bytes) left zero.
    const REQUEST: usize = 56;
    const TCP_LISTEN: u32 = 10;

    /// Local ports of every listening TCP socket, IPv4 and IPv6.
    pub fn listening_ports() -> io::Result<Vec<u16>> {
        // SAFETY: a new socket; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new fd that nothing else owns.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        // The kernel answers a dump at once; a bound on the wait all the
        // same, as this runs under the master's lock.
        let timeout = libc::timeval { tv_sec: 1, tv_usec: 0 };
        // SAFETY: a valid option value of its size.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        let mut ports = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        for family in [libc::AF_INET, libc::AF_INET6] {
            dump(&socket, family as u8, &mut buffer, &mut ports)?;
        }
        Ok(ports)
    }

    /// One family's dump, read through `buffer` (larger than the 32 KiB
    /// the kernel puts in one datagram of a dump).
    fn dump(socket: &OwnedFd, family: u8, buffer: &mut [u8], ports: &mut Vec<u16>) -> io::Result<()> {
        let mut request = [0u8; HEADER + REQUEST];
        request[0..4].copy_from_slice(&((HEADER + REQUEST) as u32).to_ne_bytes());
        request[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        request[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        request[HEADER] = family;
        request[HEADER + 1] = libc::IPPROTO_TCP as u8;
        request[HEADER + 4..HEADER + 8].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
        // SAFETY: a valid buffer of its length; with no address, netlink
        // sends to the kernel.
        let sent = unsafe { libc::send(socket.as_raw_fd(), request.as_ptr().cast(), request.len(), 0) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            // SAFETY: a writable buffer of its length.
            let got = unsafe { libc::recv(socket.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len(), 0) };
            if got < 0 {
                return Err(io::Error::last_os_error());
            }
            if parse(&buffer[..got as usize], ports)? {
                return Ok(());
            }
        }
    }

    /// Adds the local port of each socket in one datagram of the dump;
    /// `true` once the dump is done.
    pub(super) fn parse(mut datagram: &[u8], ports: &mut Vec<u16>) -> io::Result<bool> {
        let short = || io::Error::new(io::ErrorKind::InvalidData, "a short netlink message");
        if datagram.is_empty() {
            return Err(short());
        }
        while datagram.len() >= HEADER {
            let length = u32::from_ne_bytes([datagram[0], datagram[1], datagram[2], datagram[3]]) as usize;
            let kind = u16::from_ne_bytes([datagram[4], datagram[5]]);
            if length < HEADER || length > datagram.len() {
                return Err(short());
            }
            match kind {
                NLMSG_DONE => return Ok(true),
                NLMSG_ERROR => {
                    let code = datagram
                        .get(HEADER..HEADER + 4)
                        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                        .ok_or_else(short)?;
                    return Err(io::Error::from_raw_os_error(-code));
                }
                // `struct inet_diag_msg`: family, state, timer, retransmits,
                // then the socket id, whose source port (big-endian) comes
                // first.
                _ => {
                    let port = datagram.get(HEADER + 4..HEADER + 6).ok_or_else(short)?;
                    ports.push(u16::from_be_bytes([port[0], port[1]]));
                }
            }
            // Messages are aligned to 4 bytes.
            let next = length.div_ceil(4) * 4;
            datagram = datagram.get(next..).unwrap_or_default();
        }
        Ok(false)
    }
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

    /// Guards the netlink path itself (not the `/proc` fallback): it
    /// answers, and sees a listener over IPv4 and over IPv6 but not a
    /// connected socket's port.
    #[test]
    fn the_kernel_lists_listeners_over_netlink() {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let v6 = std::net::TcpListener::bind("[::1]:0").ok();
        let client = std::net::TcpStream::connect(v4.local_addr().unwrap()).unwrap();
        let ports = sock_diag::listening_ports().expect("NETLINK_SOCK_DIAG answers");
        assert!(ports.contains(&v4.local_addr().unwrap().port()), "{ports:?}");
        if let Some(v6) = v6 {
            assert!(ports.contains(&v6.local_addr().unwrap().port()), "{ports:?}");
        }
        assert!(!ports.contains(&client.local_addr().unwrap().port()), "{ports:?}");
    }

    #[test]
    fn a_short_or_failed_dump_is_an_error_not_a_panic() {
        let mut ports = Vec::new();
        assert!(sock_diag::parse(&[], &mut ports).is_err());
        assert!(sock_diag::parse(&[200, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &mut ports).is_err());
        let mut error = vec![20, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&(-13i32).to_ne_bytes());
        let error_kind = sock_diag::parse(&error, &mut ports).unwrap_err();
        assert_eq!(error_kind.raw_os_error(), Some(13));
        assert!(ports.is_empty());
    }
}
