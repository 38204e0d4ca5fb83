//! Identity, token, role assignment and audit routes.

use super::paging::NoFilters;
use super::{Client, Result, Take, seg};
use crate::access::{
    CreateIdentity, CreateRoleAssignment, CreateToken, IdentityDto, IdentityList, NewTokenDto,
    RoleAssignmentDto, RoleAssignmentList, RoleAssignmentQuery, TokenDto, TokenList,
};
use crate::audit::{AuditEntryDto, AuditList, AuditQuery, AuditVerifyDto};

fn identity_path(name: &str) -> String {
    format!("/api/v1/identities/{}", seg(name))
}

impl Client {
    /// `POST /api/v1/identities`.
    pub fn create_identity(&self, req: &CreateIdentity) -> Result<IdentityDto> {
        self.post("/api/v1/identities", req)
    }

    /// `GET /api/v1/identities`.
    pub fn list_identities(&self) -> Result<Vec<IdentityDto>> {
        let list: IdentityList = self.get("/api/v1/identities", &NoFilters {})?;
        Ok(list.value)
    }

    /// `GET /api/v1/identities/{identity}`.
    pub fn show_identity(&self, name: &str) -> Result<IdentityDto> {
        self.get(&identity_path(name), &NoFilters {})
    }

    /// `POST /api/v1/identities/{identity}/disable`.
    pub fn disable_identity(&self, name: &str) -> Result<IdentityDto> {
        self.act(&format!("{}/disable", identity_path(name)))
    }

    /// `POST /api/v1/identities/{identity}/enable`.
    pub fn enable_identity(&self, name: &str) -> Result<IdentityDto> {
        self.act(&format!("{}/enable", identity_path(name)))
    }

    /// `POST /api/v1/identities/{identity}/tokens`: the token with its
    /// secret, the only time it is shown.
    pub fn create_token(&self, identity: &str, req: &CreateToken) -> Result<NewTokenDto> {
        self.post(&format!("{}/tokens", identity_path(identity)), req)
    }

    /// `GET /api/v1/identities/{identity}/tokens`.
    pub fn list_tokens(&self, identity: &str) -> Result<Vec<TokenDto>> {
        let list: TokenList = self.get(
            &format!("{}/tokens", identity_path(identity)),
            &NoFilters {},
        )?;
        Ok(list.value)
    }

    /// `POST /api/v1/identities/{identity}/tokens/{token}/revoke`.
    pub fn revoke_token(&self, identity: &str, token: &str) -> Result<TokenDto> {
        self.act(&format!(
            "{}/tokens/{}/revoke",
            identity_path(identity),
            seg(token)
        ))
    }

    /// `POST /api/v1/roleAssignments`.
    pub fn create_role_assignment(&self, req: &CreateRoleAssignment) -> Result<RoleAssignmentDto> {
        self.post("/api/v1/roleAssignments", req)
    }

    /// `GET /api/v1/roleAssignments`.
    pub fn list_role_assignments(
        &self,
        query: &RoleAssignmentQuery,
    ) -> Result<Vec<RoleAssignmentDto>> {
        let list: RoleAssignmentList = self.get("/api/v1/roleAssignments", query)?;
        Ok(list.value)
    }

    /// `DELETE /api/v1/roleAssignments/{id}`.
    pub fn delete_role_assignment(&self, id: i64) -> Result<()> {
        self.delete(&format!("/api/v1/roleAssignments/{id}"))
    }

    /// `GET /api/v1/audit`, newest first.
    pub fn list_audit(&self, query: &AuditQuery, take: Take) -> Result<Vec<AuditEntryDto>> {
        self.list::<AuditList, _>("/api/v1/audit", query, take)
    }

    /// `GET /api/v1/audit/verify`.
    pub fn verify_audit(&self) -> Result<AuditVerifyDto> {
        self.get("/api/v1/audit/verify", &NoFilters {})
    }
}
