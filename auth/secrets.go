package auth

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/steelengine/steelengine/store"
)

const (
	masterKeyFile = "master.key"
	// checkFile holds a value sealed under the master key, so that starting with the
	// wrong key is a clear error instead of keys that silently stop decrypting.
	checkFile  = "master.check"
	checkPlain = "steelengine master key check v1"
)

// ErrWrongMasterKey means the master key does not open this data directory's secrets.
var ErrWrongMasterKey = errors.New("master key does not match this data directory (check STEELENGINE_MASTER_KEY or master.key)")

// Secrets holds the master key (AEAD for key and environment secrets) and the HMAC
// secret that indexes API keys and session tokens.
type Secrets struct {
	master  []byte // kept only so a backup the operator asks for can carry it
	aead    cipher.AEAD
	macPool sync.Pool // *macState: a hash.Hash keyed with the HMAC secret
}

// LoadSecrets returns the secrets for dataDir. envMasterKey (base64 of 32 bytes, from
// STEELENGINE_MASTER_KEY) wins; otherwise master.key in dataDir is read, or created
// (0600) on first start. A data directory whose secrets were sealed under another key,
// or whose key file went missing, is refused.
func LoadSecrets(dataDir, envMasterKey string) (*Secrets, error) {
	master, err := loadMasterKey(dataDir, envMasterKey)
	if err != nil {
		return nil, err
	}
	s, err := newSecrets(master)
	if err != nil {
		return nil, err
	}
	if err := s.verify(dataDir); err != nil {
		return nil, err
	}
	return s, nil
}

func loadMasterKey(dataDir, env string) ([]byte, error) {
	if env = strings.TrimSpace(env); env != "" {
		k, err := base64.StdEncoding.DecodeString(env)
		if err != nil || len(k) != 32 {
			return nil, errors.New("STEELENGINE_MASTER_KEY must be base64 of exactly 32 bytes")
		}
		return k, nil
	}
	path := filepath.Join(dataDir, masterKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("read %s: not base64 of 32 bytes", path)
		}
		return k, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read master key: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, checkFile)); err == nil {
		return nil, fmt.Errorf("master key missing: %s is gone and STEELENGINE_MASTER_KEY is not set, but this data directory holds sealed secrets", path)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n")); err != nil {
		return nil, fmt.Errorf("write master key: %w", err)
	}
	return k, nil
}

func newSecrets(master []byte) (*Secrets, error) {
	aead, err := chacha20poly1305.NewX(subkey(master, "steelengine aead v1"))
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	s := &Secrets{master: master, aead: aead}
	macKey := subkey(master, "steelengine hmac v1")
	s.macPool.New = func() any { return &macState{h: hmac.New(sha256.New, macKey)} }
	return s, nil
}

// subkey derives independent keys for independent jobs from the one master key.
func subkey(master []byte, label string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Files of the data directory that belong to the master key: the key itself (unless
// it comes from STEELENGINE_MASTER_KEY) and the check value sealed under it.
const (
	MasterKeyFile = masterKeyFile
	CheckFile     = checkFile
)

// SecretsFromKey returns the secrets of a base64 master key without touching a data
// directory: restore proves a key opens an archive before the archive becomes one.
func SecretsFromKey(masterKey string) (*Secrets, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(masterKey))
	if err != nil || len(k) != 32 {
		return nil, errors.New("master key must be base64 of exactly 32 bytes")
	}
	return newSecrets(k)
}

// MasterKey returns the master key in its file form (base64), for a backup the
// operator asked to carry it.
func (s *Secrets) MasterKey() string { return base64.StdEncoding.EncodeToString(s.master) }

// HasMasterKey reports whether a master key is available for dataDir without creating
// one: given (STEELENGINE_MASTER_KEY) or in the key file.
func HasMasterKey(dataDir, envMasterKey string) bool {
	if strings.TrimSpace(envMasterKey) != "" {
		return true
	}
	_, err := os.Stat(filepath.Join(dataDir, masterKeyFile))
	return err == nil
}

// Verify checks dir's master-key check value against s (ErrWrongMasterKey when it was
// sealed under another key) and writes one when dir has none.
func (s *Secrets) Verify(dir string) error { return s.verify(dir) }

func (s *Secrets) verify(dataDir string) error {
	path := filepath.Join(dataDir, checkFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		ct, err := s.Seal(checkFile, []byte(checkPlain))
		if err != nil {
			return err
		}
		return writeFileAtomic(path, []byte(base64.StdEncoding.EncodeToString(ct)+"\n"))
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	ct, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	plain, err := s.Open(checkFile, ct)
	if err != nil || string(plain) != checkPlain {
		return ErrWrongMasterKey
	}
	return nil
}

// Digest returns HMAC-SHA-256(secret, v): the lookup index for keys and sessions.
func (s *Secrets) Digest(v string) []byte {
	d := s.digestArray(v)
	return d[:]
}

// digestArray is Digest by value, so the per-request key lookup allocates nothing:
// the interface calls of the pooled HMAC see only its own buffers.
func (s *Secrets) digestArray(v string) [sha256.Size]byte {
	m := s.macPool.Get().(*macState)
	m.h.Reset()
	m.buf = append(m.buf[:0], v...)
	m.h.Write(m.buf)
	m.sum = m.h.Sum(m.sum[:0])
	var out [sha256.Size]byte
	copy(out[:], m.sum)
	s.macPool.Put(m)
	return out
}

// macState is a pooled HMAC with scratch buffers for its input and output.
type macState struct {
	h        hash.Hash
	buf, sum []byte
}

// Seal encrypts plain with XChaCha20-Poly1305, bound to aad (a record id): a
// ciphertext moved to another record does not open.
func (s *Secrets) Seal(aad string, plain []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(aad)), nil
}

// Open decrypts what Seal produced for the same aad.
func (s *Secrets) Open(aad string, ct []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(ct) < n+s.aead.Overhead() {
		return nil, errors.New("ciphertext too short")
	}
	plain, err := s.aead.Open(nil, ct[:n], ct[n:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w", err)
	}
	return plain, nil
}

// SealEnv returns the stored form of a workspace environment variable.
func (s *Secrets) SealEnv(wsID, name, value string) (*store.EnvVar, error) {
	ct, err := s.Seal(envAAD(wsID, name), []byte(value))
	if err != nil {
		return nil, err
	}
	return &store.EnvVar{WorkspaceID: wsID, Name: name, Ciphertext: ct}, nil
}

// SealPersonalEnv returns the stored form of a user's personal environment variable.
func (s *Secrets) SealPersonalEnv(userID, name, value string) (*store.EnvVar, error) {
	ct, err := s.Seal(personalEnvAAD(userID, name), []byte(value))
	if err != nil {
		return nil, err
	}
	return &store.EnvVar{UserID: userID, Name: name, Ciphertext: ct}, nil
}

// OpenEnv decrypts a workspace or personal environment variable.
func (s *Secrets) OpenEnv(v *store.EnvVar) (string, error) {
	aad := envAAD(v.WorkspaceID, v.Name)
	if v.Personal() {
		aad = personalEnvAAD(v.UserID, v.Name)
	}
	b, err := s.Open(aad, v.Ciphertext)
	return string(b), err
}

func envAAD(wsID, name string) string { return "env\x00" + wsID + "\x00" + name }

// personalEnvAAD differs from envAAD so that a user id can never pass for a workspace id.
func personalEnvAAD(userID, name string) string { return "user-env\x00" + userID + "\x00" + name }

// writeFileAtomic writes a 0600 file via a temporary file and rename, so a crash never
// leaves a half-written secret behind.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// equalDigest compares digests in constant time.
func equalDigest(a, b []byte) bool { return hmac.Equal(a, b) && len(a) > 0 }

// SealProviderKey seals a model provider's API key, bound to its workspace and id.
func (s *Secrets) SealProviderKey(wsID, id, key string) ([]byte, error) {
	return s.Seal(providerAAD(wsID, id), []byte(key))
}

// OpenProviderKey decrypts a model provider's API key ("" when it has none).
func (s *Secrets) OpenProviderKey(p *store.ModelProvider) (string, error) {
	if len(p.KeySealed) == 0 {
		return "", nil
	}
	b, err := s.Open(providerAAD(p.WorkspaceID, p.ID), p.KeySealed)
	return string(b), err
}

func providerAAD(wsID, id string) string { return "provider\x00" + wsID + "\x00" + id }

// SealMCPHeaders seals an external MCP server's request headers (tokens), bound to its
// workspace and id.
func (s *Secrets) SealMCPHeaders(wsID, id string, headers []byte) ([]byte, error) {
	return s.Seal("mcpheaders\x00"+wsID+"\x00"+id, headers)
}

// OpenMCPHeaders decrypts what SealMCPHeaders produced.
func (s *Secrets) OpenMCPHeaders(m *store.ExternalMCPServer) ([]byte, error) {
	if len(m.HeadersSealed) == 0 {
		return nil, nil
	}
	return s.Open("mcpheaders\x00"+m.WorkspaceID+"\x00"+m.ID, m.HeadersSealed)
}
