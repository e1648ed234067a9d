// Package secret encrypts secrets for the store with AES-256-GCM, so the
// database only ever holds ciphertext, and loads the key: from
// $SLUICE_SECRET_KEY, or from a key file created (mode 0600) on first use.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-dev/sluice"
)

// EnvVar holds the key: 32 bytes, base64 or hex encoded.
const EnvVar = "SLUICE_SECRET_KEY"

// KeyFile is the name of the key file in a SQLite home directory.
const KeyFile = "secret.key"

// Box seals and opens secret values.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret: the key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts a secret's value. The name is authenticated with it, so a
// value cannot be moved to another secret's row.
func (b *Box) Seal(name string, value []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("secret: no randomness: %v", err))
	}
	return b.aead.Seal(nonce, nonce, value, []byte(name))
}

// Open decrypts what Seal made for name.
func (b *Box) Open(name string, sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("secret: value too short")
	}
	v, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(name))
	if err != nil {
		return nil, sluice.Errorf(sluice.EINVALID, "secret %q cannot be decrypted: it was stored with another key (check %s)", name, EnvVar)
	}
	return v, nil
}

// ParseKey reads a key written as base64 or hex.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, sluice.Errorf(sluice.EINVALID, "%s must be 32 random bytes in base64 or hex, e.g. from: openssl rand -base64 32", EnvVar)
}

// Load returns the Box of the environment's key, or of the key file in dir
// (created when create is set and it does not exist). It returns nil, nil
// when there is no key and none may be created.
func Load(dir string, create bool) (*Box, error) {
	if v := os.Getenv(EnvVar); v != "" {
		k, err := ParseKey(v)
		if err != nil {
			return nil, err
		}
		return NewBox(k)
	}
	if dir == "" {
		return nil, nil
	}
	path := filepath.Join(dir, KeyFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := ParseKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return NewBox(k)
	case !os.IsNotExist(err) || !create:
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if os.IsExist(err) { // another process made it first
			return Load(dir, false)
		}
		return nil, err
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return NewBox(k)
}
