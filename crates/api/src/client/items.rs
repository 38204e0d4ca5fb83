//! Protected item, recovery point and restore routes.

use serde::Deserialize;

use super::paging::NoFilters;
use super::vaults::vault_path;
use super::{Client, Result, Take, seg};
use crate::items::{BackupNow, EnableProtection, ItemDto, ItemList, PolicyRef, StopProtection};
use crate::jobs::JobDto;
use crate::points::{PointDto, PointList, PointQuery, RestoreRequest};

/// What stopping protection answers: the item (`retain-data`,
/// `retain-as-per-policy`, 200) or the job that deletes its data
/// (`delete-data`, 202).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Stopped {
    Deleting(Box<JobDto>),
    Item(Box<ItemDto>),
}

fn item_path(vault: &str, item: &str) -> String {
    format!("{}/items/{}", vault_path(vault), seg(item))
}

fn points_path(vault: &str, item: &str) -> String {
    format!("{}/points", item_path(vault, item))
}

impl Client {
    /// `POST /api/v1/vaults/{vault}/items`.
    pub fn enable_protection(&self, vault: &str, req: &EnableProtection) -> Result<ItemDto> {
        self.post(&format!("{}/items", vault_path(vault)), req)
    }

    /// `GET /api/v1/vaults/{vault}/items`.
    pub fn list_items(&self, vault: &str, take: Take) -> Result<Vec<ItemDto>> {
        self.list::<ItemList, _>(&format!("{}/items", vault_path(vault)), &NoFilters {}, take)
    }

    /// `GET /api/v1/vaults/{vault}/items/{item}`.
    pub fn show_item(&self, vault: &str, item: &str) -> Result<ItemDto> {
        self.get(&item_path(vault, item), &NoFilters {})
    }

    /// `POST …/items/{item}/backup`: the queued job.
    pub fn backup_now(&self, vault: &str, item: &str, req: &BackupNow) -> Result<JobDto> {
        self.post(&format!("{}/backup", item_path(vault, item)), req)
    }

    /// `POST …/items/{item}/stop`.
    pub fn stop_protection(
        &self,
        vault: &str,
        item: &str,
        req: &StopProtection,
    ) -> Result<Stopped> {
        self.post(&format!("{}/stop", item_path(vault, item)), req)
    }

    /// `POST …/items/{item}/resume`.
    pub fn resume_protection(&self, vault: &str, item: &str, req: &PolicyRef) -> Result<ItemDto> {
        self.post(&format!("{}/resume", item_path(vault, item)), req)
    }

    /// `POST …/items/{item}/policy`.
    pub fn change_policy(&self, vault: &str, item: &str, req: &PolicyRef) -> Result<ItemDto> {
        self.post(&format!("{}/policy", item_path(vault, item)), req)
    }

    /// `POST …/items/{item}/undelete`.
    pub fn undelete_item(&self, vault: &str, item: &str) -> Result<ItemDto> {
        self.act(&format!("{}/undelete", item_path(vault, item)))
    }

    /// `GET …/items/{item}/points`, newest first.
    pub fn list_points(
        &self,
        vault: &str,
        item: &str,
        query: &PointQuery,
        take: Take,
    ) -> Result<Vec<PointDto>> {
        self.list::<PointList, _>(&points_path(vault, item), query, take)
    }

    /// `GET …/items/{item}/points/{point}`.
    pub fn show_point(&self, vault: &str, item: &str, point: &str) -> Result<PointDto> {
        self.get(
            &format!("{}/{}", points_path(vault, item), seg(point)),
            &NoFilters {},
        )
    }

    /// `POST …/points/{point}/restore`: the queued job.
    pub fn restore(
        &self,
        vault: &str,
        item: &str,
        point: &str,
        req: &RestoreRequest,
    ) -> Result<JobDto> {
        self.post(
            &format!("{}/{}/restore", points_path(vault, item), seg(point)),
            req,
        )
    }
}
