package store

import (
	"encoding/json"
	"time"
)

// Level is an ordered access level: read < write < admin. It is used for workspace
// membership permissions, workspace-key levels and organization-key grants.
type Level string

const (
	LevelNone  Level = ""
	LevelRead  Level = "read"
	LevelWrite Level = "write"
	LevelAdmin Level = "admin"
)

// Rank orders levels; an unknown level ranks as none.
func (l Level) Rank() int {
	switch l {
	case LevelRead:
		return 1
	case LevelWrite:
		return 2
	case LevelAdmin:
		return 3
	}
	return 0
}

// Valid reports whether l is one of read, write, admin.
func (l Level) Valid() bool { return l.Rank() > 0 }

// OrgRole is a member's role in an organization.
type OrgRole string

const (
	RoleOwner  OrgRole = "owner"
	RoleAdmin  OrgRole = "admin"
	RoleMember OrgRole = "member"
)

// Valid reports whether r is owner, admin or member.
func (r OrgRole) Valid() bool { return r == RoleOwner || r == RoleAdmin || r == RoleMember }

// User is a person who can log in to the dashboard and own personal keys.
type User struct {
	ID            string     `json:"id"`
	Email         string     `json:"email"`
	Name          string     `json:"name"`
	PasswordHash  string     `json:"passwordHash,omitempty"`
	InstanceAdmin bool       `json:"instanceAdmin,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	DisabledAt    *time.Time `json:"disabledAt,omitempty"`
}

// Org is an organization: a group of workspaces managed together.
type Org struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	CreatedAt      time.Time     `json:"createdAt"`
	MaxKeyLifetime time.Duration `json:"maxKeyLifetime,omitempty"`
}

// OrgMember is one user's role in one organization.
type OrgMember struct {
	OrgID  string  `json:"orgId"`
	UserID string  `json:"userId"`
	Role   OrgRole `json:"role"`
}

// Workspace holds workflows; OwnerID is the billing owner.
type Workspace struct {
	ID                string        `json:"id"`
	Name              string        `json:"name"`
	OwnerID           string        `json:"ownerId"`
	OrgID             string        `json:"orgId,omitempty"`
	AllowPersonalKeys bool          `json:"allowPersonalKeys"`
	MaxKeyLifetime    time.Duration `json:"maxKeyLifetime,omitempty"`
	CreatedAt         time.Time     `json:"createdAt"`
}

// WorkspaceMember is one user's permission in one workspace.
type WorkspaceMember struct {
	WorkspaceID string `json:"workspaceId"`
	UserID      string `json:"userId"`
	Permission  Level  `json:"permission"`
}

// Workflow is a workflow's draft and deployment state. The definition is opaque to the
// store: the engine owns its format.
type Workflow struct {
	ID            string          `json:"id"`
	WorkspaceID   string          `json:"workspaceId"`
	Name          string          `json:"name"`
	Description   string          `json:"description"`
	Draft         json.RawMessage `json:"draft"`
	ActiveVersion uint32          `json:"activeVersion,omitempty"` // 0 = not deployed
	LatestVersion uint32          `json:"latestVersion,omitempty"`
	DeployedAt    *time.Time      `json:"deployedAt,omitempty"`
	CreatedAt     time.Time       `json:"createdAt"`
	UpdatedAt     time.Time       `json:"updatedAt"`
}

// IsDeployed reports whether an active deployed version exists.
func (w *Workflow) IsDeployed() bool { return w.ActiveVersion > 0 }

// Deployment is an immutable deployed snapshot of a workflow.
type Deployment struct {
	WorkflowID string          `json:"workflowId"`
	Version    uint32          `json:"version"`
	Definition json.RawMessage `json:"definition"`
	CreatedAt  time.Time       `json:"createdAt"`
	CreatedBy  string          `json:"createdBy,omitempty"`
	Note       string          `json:"note,omitempty"`
}

// KeyType is the kind of API key.
type KeyType string

const (
	KeyPersonal     KeyType = "personal"
	KeyWorkspace    KeyType = "workspace"
	KeyOrganization KeyType = "organization"
)

// Valid reports whether t is a known key type.
func (t KeyType) Valid() bool {
	return t == KeyPersonal || t == KeyWorkspace || t == KeyOrganization
}

// TargetType says what a grant points at.
type TargetType string

const (
	TargetWorkspace TargetType = "workspace"
	TargetWorkflow  TargetType = "workflow"
	// TargetOrg is used by invitations only; grants never target an organization.
	TargetOrg TargetType = "organization"
)

// Grant gives an organization key a level on one workspace or one workflow.
type Grant struct {
	TargetType TargetType `json:"targetType"`
	TargetID   string     `json:"targetId"`
	Level      Level      `json:"level"`
}

// APIKey is the stored form of an API key. The plaintext never appears here: Digest is
// the HMAC lookup index and Ciphertext the AEAD-sealed secret.
type APIKey struct {
	ID          string     `json:"id"`
	Type        KeyType    `json:"type"`
	Name        string     `json:"name"`
	UserID      string     `json:"userId,omitempty"`      // personal: owner
	WorkspaceID string     `json:"workspaceId,omitempty"` // workspace: owner
	OrgID       string     `json:"orgId,omitempty"`       // organization: owner
	CreatedBy   string     `json:"createdBy,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	RevokedAt   *time.Time `json:"revokedAt,omitempty"`
	// GraceUntil is set on the old key when it is rotated: it keeps working until then.
	GraceUntil  *time.Time `json:"graceUntil,omitempty"`
	RotatedTo   string     `json:"rotatedTo,omitempty"`
	LastUsedAt  *time.Time `json:"lastUsedAt,omitempty"`
	LastUsedVia string     `json:"lastUsedVia,omitempty"`
	Suffix      string     `json:"suffix"` // last 4 characters, for display
	Digest      []byte     `json:"digest"`
	Ciphertext  []byte     `json:"ciphertext"`
	// Workspace keys: the level (default write) and optional workflow narrowing.
	Level     Level    `json:"level,omitempty"`
	Workflows []string `json:"workflows,omitempty"`
	// Organization keys: the grants (stored in their own buckets, filled in on read).
	Grants       []Grant  `json:"grants,omitempty"`
	AllowedCIDRs []string `json:"allowedCidrs,omitempty"`
	RateLimit    int      `json:"rateLimit,omitempty"` // requests per minute; 0 = server default
}

// OwnerID returns the id of the user, workspace or organization that owns the key.
func (k *APIKey) OwnerID() string {
	switch k.Type {
	case KeyPersonal:
		return k.UserID
	case KeyWorkspace:
		return k.WorkspaceID
	}
	return k.OrgID
}

// AuditEvent records something that happened to a key or a policy.
type AuditEvent struct {
	ID          string    `json:"id"`
	Time        time.Time `json:"time"`
	Action      string    `json:"action"` // created, rotated, revoked, denied, personal_keys_changed, ...
	KeyID       string    `json:"keyId,omitempty"`
	ActorID     string    `json:"actorId,omitempty"`
	WorkspaceID string    `json:"workspaceId,omitempty"`
	OrgID       string    `json:"orgId,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	IP          string    `json:"ip,omitempty"`
	Transport   string    `json:"transport,omitempty"`
}

// Session is a dashboard login session. Only the token's digest is stored.
type Session struct {
	Digest    []byte    `json:"digest"`
	UserID    string    `json:"userId"`
	CSRFToken string    `json:"csrfToken"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// MCPServer is a named set of workflows of one workspace served at /api/mcp/serve/{id}.
type MCPServer struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspaceId"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	WorkflowIDs []string  `json:"workflowIds"`
	CreatedBy   string    `json:"createdBy,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// EnvVar is an environment variable sealed with the master key: a workspace's
// (WorkspaceID set) or a user's personal one (UserID set), which overrides the
// workspace's in runs that user starts.
type EnvVar struct {
	WorkspaceID string    `json:"workspaceId,omitempty"`
	UserID      string    `json:"userId,omitempty"`
	Name        string    `json:"name"`
	Ciphertext  []byte    `json:"ciphertext"`
	UpdatedAt   time.Time `json:"updatedAt"`
	UpdatedBy   string    `json:"updatedBy,omitempty"` // actor id: user id, "operator" or "key:"+id
}

// Personal reports whether v is a user's personal variable.
func (v *EnvVar) Personal() bool { return v.UserID != "" }

// Invitation asks a person, by email, to join a workspace or an organization. Nothing
// of the target reaches the invitee until they accept it.
type Invitation struct {
	ID         string     `json:"id"`
	TargetType TargetType `json:"targetType"` // workspace or organization
	TargetID   string     `json:"targetId"`
	Email      string     `json:"email"`
	Permission Level      `json:"permission,omitempty"` // workspace invitations
	Role       OrgRole    `json:"role,omitempty"`       // organization invitations
	InvitedBy  string     `json:"invitedBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  time.Time  `json:"expiresAt"`
}

// ModelProvider is a workspace's connection to a model API. Agent, router and evaluator
// blocks reach a provider by a model prefix ("<name>/model"), by the model-name
// patterns it claims, or as the workspace default. The API key is sealed with the
// master key and never leaves the core.
type ModelProvider struct {
	ID           string    `json:"id"`
	WorkspaceID  string    `json:"workspaceId"`
	Name         string    `json:"name"`
	Kind         string    `json:"kind"` // openai (OpenAI-compatible) | anthropic
	BaseURL      string    `json:"baseUrl"`
	DefaultModel string    `json:"defaultModel,omitempty"`
	Models       []string  `json:"models,omitempty"` // glob patterns such as claude-*
	IsDefault    bool      `json:"isDefault,omitempty"`
	TimeoutMs    int64     `json:"timeoutMs,omitempty"`
	KeySealed    []byte    `json:"keySealed,omitempty"`
	CreatedBy    string    `json:"createdBy,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Conversation is an agent's memory for one conversation id of a workspace (Sim's
// memoryType conversation / sliding_window / sliding_window_tokens).
type Conversation struct {
	WorkspaceID string          `json:"workspaceId"`
	ID          string          `json:"id"`
	Messages    []MemoryMessage `json:"messages"`
	UpdatedAt   time.Time       `json:"updatedAt"`
}

// MemoryMessage is one remembered message.
type MemoryMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ExternalMCPServer is an MCP server a workspace's agents may call tools of
// (streamable HTTP). Its headers (tokens) are sealed with the master key.
type ExternalMCPServer struct {
	ID            string    `json:"id"`
	WorkspaceID   string    `json:"workspaceId"`
	Name          string    `json:"name"`
	URL           string    `json:"url"`
	HeaderNames   []string  `json:"headerNames,omitempty"`
	HeadersSealed []byte    `json:"headersSealed,omitempty"`
	CreatedBy     string    `json:"createdBy,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
}
