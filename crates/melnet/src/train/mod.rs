//! Training: optimisers (more to come: schedule, checkpoints, the training loop).

pub mod optim;
