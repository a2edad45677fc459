package auth

import (
	"encoding/json"
	"fmt"

	"github.com/steelengine/steelengine/store"
)

// principalRecord is a Principal as a queued job carries it to the replica that runs
// the job: who accepted the run, so that its child workflows are authorized as that
// caller, as they would be had the run stayed in the accepting process. Access is still
// decided by Authorize against current state when a child starts.
type principalRecord struct {
	KeyID         string        `json:"keyId,omitempty"`
	KeyType       store.KeyType `json:"keyType,omitempty"`
	UserID        string        `json:"userId,omitempty"`
	WorkspaceID   string        `json:"workspaceId,omitempty"`
	OrgID         string        `json:"orgId,omitempty"`
	Level         store.Level   `json:"level,omitempty"`
	Workflows     []string      `json:"workflows,omitempty"`
	Grants        []store.Grant `json:"grants,omitempty"`
	Session       bool          `json:"session,omitempty"`
	InstanceAdmin bool          `json:"instanceAdmin,omitempty"`
	Transport     string        `json:"transport,omitempty"`
	Operator      bool          `json:"operator,omitempty"`
}

// EncodePrincipal returns p in the form a queued job stores (DecodePrincipal reads it).
func EncodePrincipal(p *Principal) ([]byte, error) {
	if p == nil {
		return nil, nil
	}
	return json.Marshal(principalRecord{KeyID: p.KeyID, KeyType: p.KeyType, UserID: p.UserID, WorkspaceID: p.WorkspaceID,
		OrgID: p.OrgID, Level: p.Level, Workflows: p.Workflows, Grants: p.Grants, Session: p.Session,
		InstanceAdmin: p.InstanceAdmin, Transport: p.Transport, Operator: p.operator})
}

// DecodePrincipal reads what EncodePrincipal wrote; empty input is no principal (nil).
func DecodePrincipal(b []byte) (*Principal, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var r principalRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode principal: %w", err)
	}
	if r.Operator {
		return Operator(), nil
	}
	return &Principal{KeyID: r.KeyID, KeyType: r.KeyType, UserID: r.UserID, WorkspaceID: r.WorkspaceID, OrgID: r.OrgID,
		Level: r.Level, Workflows: r.Workflows, Grants: r.Grants, Session: r.Session, InstanceAdmin: r.InstanceAdmin,
		Transport: r.Transport}, nil
}
