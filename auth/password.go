package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"

	"github.com/sluice-dev/sluice"
)

// argon2id parameters, written into every hash so they can change later
// (hashes made with others still check). These are OWASP's first
// recommended set, 19 MiB and 2 passes: each login in progress holds that
// much memory, and a web process should not need hundreds of megabytes to
// answer a handful of logins at once. RFC 9106's 64 MiB set cost a server
// 64 MB of peak memory for its first start's admin alone.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns the argon2id hash of a password in PHC string form.
func HashPassword(password string) (string, error) {
	if len(password) < 8 {
		return "", errors.New("a password needs at least 8 characters")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches a hash from HashPassword.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var (
		m, t uint32
		p    uint8
	)
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// randomString returns n random bytes, URL-safe base64 encoded.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("auth: no randomness: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokenPrefix starts every API token, so a leaked one is easy to spot.
const TokenPrefix = "slc_"

// NewToken returns a new API token and the hash to store for it.
func NewToken() (secret, hash string) {
	secret = TokenPrefix + randomString(32)
	return secret, HashSecret(secret)
}

// HashSecret is the stored form of a high-entropy secret (an API token or
// a session id): its SHA-256. A slow hash is needed only for passwords,
// which people choose.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewPassword returns a random password for a new account.
func NewPassword() string { return randomString(15) }

// hashSlots bounds the password checks in progress at once: each holds
// argonMemory (19 MiB), so a burst of logins, even with made-up names,
// which no limit per user stops, must not take the server's memory.
// Logins beyond the slots wait their turn; beyond maxHashWaiters waiting,
// they are turned away at once rather than pile up.
var (
	hashSlots      = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))
	hashWaiters    atomic.Int64
	maxHashWaiters = int64(64)
)

// checkPasswordLimited is CheckPassword within hashSlots.
func checkPasswordLimited(ctx context.Context, hash, password string) (bool, error) {
	if hashWaiters.Add(1) > maxHashWaiters {
		hashWaiters.Add(-1)
		return false, sluice.Errorf(sluice.ERATELIMIT, "the server is busy checking other logins: try again in a few seconds")
	}
	defer hashWaiters.Add(-1)
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-hashSlots }()
	return CheckPassword(hash, password), nil
}
