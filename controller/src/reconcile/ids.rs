//! Where new task ids' unique parts come from: injected, so that a plan is
//! deterministic in tests and replays.

/// A source of unique parts of task ids (no `.` in them).
pub trait IdSource {
    /// The next unique part.
    fn unique(&mut self) -> String;
}

/// Random 8-hex-digit parts, for the running controller.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn unique(&mut self) -> String {
        let mut s = uuid::Uuid::new_v4().simple().to_string();
        s.truncate(8);
        s
    }
}

/// `00000000`, `00000001`, ...: for tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct SequentialIds(pub u64);

impl IdSource for SequentialIds {
    fn unique(&mut self) -> String {
        let s = format!("{:08x}", self.0);
        self.0 += 1;
        s
    }
}
