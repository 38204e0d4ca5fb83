//! # lifeboat-model: the domain, without I/O
//!
//! Vaults, backup policies, protected items, recovery points and jobs as
//! plain types, and the pure logic around them: policy validation,
//! schedules, retention tagging and expiry, state machines. Nothing here
//! touches a disk, a clock or a network; callers pass the time in.
