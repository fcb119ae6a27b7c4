//! A deterministic simulator of the parts of AWS a rollout touches: Auto Scaling groups,
//! instances that boot after random delays, a load balancer with a realistic health model
//! (`initial` for interval × healthy threshold, `draining` for the deregistration delay,
//! routing only to healthy registered targets), a traffic generator, CloudWatch alarms and
//! metric sums, and faults (never-healthy instances, health flaps, API errors, eventual
//! consistency, alarms firing mid-soak, the controller killed and resumed).
//!
//! Virtual time, seeded randomness: a scenario replays bit for bit. Requests routed to a
//! terminated or unregistered target, or to a group with no healthy target, are dropped and
//! counted; the invariants of ARCHITECTURE.md are checked at every tick and at every command.

mod driver;
pub mod fixtures;
mod naive;
mod rng;
mod world;

pub use driver::{Controller, ControllerFactory, Kill, Report, run, run_with};
pub use naive::NaiveController;
pub use rng::SplitMix64;
pub use world::{Faults, ScalingEvent, ScalingGroup, Scenario, Timings, World};
