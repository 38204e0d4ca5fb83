//! Vault, soft-deleted vault, alert and policy routes.

use super::paging::NoFilters;
use super::{Client, Result, Take, seg};
use crate::policies::{CreatePolicy, PolicyDto, PolicyList, ReplacePolicy};
use crate::vaults::{AlertList, AlertQuery, CreateVault, UpdateVault, VaultDto, VaultList};

/// `/api/v1/vaults/{vault}`.
pub(crate) fn vault_path(vault: &str) -> String {
    format!("/api/v1/vaults/{}", seg(vault))
}

fn policy_path(vault: &str, policy: &str) -> String {
    format!("{}/policies/{}", vault_path(vault), seg(policy))
}

fn deleted_path(vault: &str) -> String {
    format!("/api/v1/deleted-vaults/{}", seg(vault))
}

impl Client {
    /// `POST /api/v1/vaults`.
    pub fn create_vault(&self, req: &CreateVault) -> Result<VaultDto> {
        self.post("/api/v1/vaults", req)
    }

    /// `GET /api/v1/vaults`.
    pub fn list_vaults(&self, take: Take) -> Result<Vec<VaultDto>> {
        self.list::<VaultList, _>("/api/v1/vaults", &NoFilters {}, take)
    }

    /// `GET /api/v1/vaults/{vault}`.
    pub fn show_vault(&self, vault: &str) -> Result<VaultDto> {
        self.get(&vault_path(vault), &NoFilters {})
    }

    /// `PATCH /api/v1/vaults/{vault}`.
    pub fn update_vault(&self, vault: &str, req: &UpdateVault) -> Result<VaultDto> {
        self.patch(&vault_path(vault), req)
    }

    /// `DELETE /api/v1/vaults/{vault}`.
    pub fn delete_vault(&self, vault: &str) -> Result<()> {
        self.delete(&vault_path(vault))
    }

    /// `GET /api/v1/vaults/{vault}/alerts`.
    pub fn list_alerts(&self, vault: &str, query: &AlertQuery) -> Result<AlertList> {
        self.get(&format!("{}/alerts", vault_path(vault)), query)
    }

    /// `GET /api/v1/deleted-vaults`.
    pub fn list_deleted_vaults(&self, take: Take) -> Result<Vec<VaultDto>> {
        self.list::<VaultList, _>("/api/v1/deleted-vaults", &NoFilters {}, take)
    }

    /// `GET /api/v1/deleted-vaults/{vault}`.
    pub fn show_deleted_vault(&self, vault: &str) -> Result<VaultDto> {
        self.get(&deleted_path(vault), &NoFilters {})
    }

    /// `POST /api/v1/deleted-vaults/{vault}/undelete`.
    pub fn undelete_vault(&self, vault: &str) -> Result<VaultDto> {
        self.act(&format!("{}/undelete", deleted_path(vault)))
    }

    /// `POST /api/v1/vaults/{vault}/policies`.
    pub fn create_policy(&self, vault: &str, req: &CreatePolicy) -> Result<PolicyDto> {
        self.post(&format!("{}/policies", vault_path(vault)), req)
    }

    /// `GET /api/v1/vaults/{vault}/policies`.
    pub fn list_policies(&self, vault: &str, take: Take) -> Result<Vec<PolicyDto>> {
        self.list::<PolicyList, _>(
            &format!("{}/policies", vault_path(vault)),
            &NoFilters {},
            take,
        )
    }

    /// `GET /api/v1/vaults/{vault}/policies/{policy}`.
    pub fn show_policy(&self, vault: &str, policy: &str) -> Result<PolicyDto> {
        self.get(&policy_path(vault, policy), &NoFilters {})
    }

    /// `PUT /api/v1/vaults/{vault}/policies/{policy}`.
    pub fn replace_policy(
        &self,
        vault: &str,
        policy: &str,
        req: &ReplacePolicy,
    ) -> Result<PolicyDto> {
        self.put(&policy_path(vault, policy), req)
    }

    /// `DELETE /api/v1/vaults/{vault}/policies/{policy}`.
    pub fn delete_policy(&self, vault: &str, policy: &str) -> Result<()> {
        self.delete(&policy_path(vault, policy))
    }
}
