//! Job routes.

use super::paging::NoFilters;
use super::{Client, Result, Take};
use crate::jobs::{JobDto, JobList, JobQuery};

impl Client {
    /// `GET /api/v1/jobs`, newest first.
    pub fn list_jobs(&self, query: &JobQuery, take: Take) -> Result<Vec<JobDto>> {
        self.list::<JobList, _>("/api/v1/jobs", query, take)
    }

    /// `GET /api/v1/jobs/{id}`.
    pub fn show_job(&self, id: i64) -> Result<JobDto> {
        self.get(&format!("/api/v1/jobs/{id}"), &NoFilters {})
    }

    /// `POST /api/v1/jobs/{id}/cancel`.
    pub fn cancel_job(&self, id: i64) -> Result<JobDto> {
        self.act(&format!("/api/v1/jobs/{id}/cancel"))
    }
}
