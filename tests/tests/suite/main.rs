//! All integration suites of modelgate-tests in one test binary: one link instead of twenty,
//! which keeps the build (and CI's disk) lean. Each module is one suite.

mod access;
mod api;
mod architecture;
mod audit;
mod browser;
mod cli;
mod cli_formats;
mod contract;
mod fixtures;
mod formats;
mod hub;
mod hub_service;
mod licenses;
mod migrations;
mod pack;
mod packs;
mod pg_tls;
mod props;
mod props_formats;
mod reviews;
mod store;
mod telemetry;
mod ui;
mod waivers;
