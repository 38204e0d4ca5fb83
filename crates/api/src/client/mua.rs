//! Resource guard, holder, approval request and vault mapping routes.

use super::paging::NoFilters;
use super::vaults::vault_path;
use super::{Client, Result, seg};
use crate::mua::{
    ApproveBody, AttachGuard, CreateMuaRequest, CreateResourceGuard, GuardMemberBody,
    MuaRequestDto, MuaRequestList, RequestQuery, ResourceGuardDto, ResourceGuardList,
    VaultGuardDto,
};

fn guard_path(name: &str) -> String {
    format!("/api/v1/resourceGuards/{}", seg(name))
}

fn mapping_path(vault: &str) -> String {
    format!("{}/resourceGuard", vault_path(vault))
}

impl Client {
    /// `POST /api/v1/resourceGuards`.
    pub fn create_guard(&self, req: &CreateResourceGuard) -> Result<ResourceGuardDto> {
        self.post("/api/v1/resourceGuards", req)
    }

    /// `GET /api/v1/resourceGuards`: the guards the caller may read.
    pub fn list_guards(&self) -> Result<Vec<ResourceGuardDto>> {
        let list: ResourceGuardList = self.get("/api/v1/resourceGuards", &NoFilters {})?;
        Ok(list.value)
    }

    /// `GET /api/v1/resourceGuards/{guard}`.
    pub fn show_guard(&self, name: &str) -> Result<ResourceGuardDto> {
        self.get(&guard_path(name), &NoFilters {})
    }

    /// `DELETE /api/v1/resourceGuards/{guard}`.
    pub fn delete_guard(&self, name: &str) -> Result<()> {
        self.delete(&guard_path(name))
    }

    /// `POST /api/v1/resourceGuards/{guard}/members`.
    pub fn add_guard_member(&self, guard: &str, req: &GuardMemberBody) -> Result<ResourceGuardDto> {
        self.post(&format!("{}/members", guard_path(guard)), req)
    }

    /// `DELETE /api/v1/resourceGuards/{guard}/members/{identity}`.
    pub fn remove_guard_member(&self, guard: &str, identity: &str) -> Result<()> {
        self.delete(&format!("{}/members/{}", guard_path(guard), seg(identity)))
    }

    /// `GET /api/v1/resourceGuards/{guard}/requests`, newest first.
    pub fn list_requests(&self, guard: &str, query: &RequestQuery) -> Result<Vec<MuaRequestDto>> {
        let list: MuaRequestList = self.get(&format!("{}/requests", guard_path(guard)), query)?;
        Ok(list.value)
    }

    /// `POST /api/v1/resourceGuards/{guard}/requests/{id}/approve`.
    pub fn approve_request(
        &self,
        guard: &str,
        id: i64,
        req: &ApproveBody,
    ) -> Result<MuaRequestDto> {
        self.post(&format!("{}/requests/{id}/approve", guard_path(guard)), req)
    }

    /// `POST /api/v1/resourceGuards/{guard}/requests/{id}/reject`.
    pub fn reject_request(&self, guard: &str, id: i64) -> Result<MuaRequestDto> {
        self.act(&format!("{}/requests/{id}/reject", guard_path(guard)))
    }

    /// `GET /api/v1/vaults/{vault}/resourceGuard`.
    pub fn show_mapping(&self, vault: &str) -> Result<VaultGuardDto> {
        self.get(&mapping_path(vault), &NoFilters {})
    }

    /// `PUT /api/v1/vaults/{vault}/resourceGuard`.
    pub fn attach_guard(&self, vault: &str, req: &AttachGuard) -> Result<VaultGuardDto> {
        self.put(&mapping_path(vault), req)
    }

    /// `DELETE /api/v1/vaults/{vault}/resourceGuard`.
    pub fn detach_guard(&self, vault: &str) -> Result<()> {
        self.delete(&mapping_path(vault))
    }

    /// `POST /api/v1/vaults/{vault}/resourceGuard/requests`.
    pub fn create_request(&self, vault: &str, req: &CreateMuaRequest) -> Result<MuaRequestDto> {
        self.post(&format!("{}/requests", mapping_path(vault)), req)
    }
}
