package secret_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/secret"
)

func TestSealOpen(t *testing.T) {
	key := make([]byte, 32)
	key[0] = 7
	b, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := b.Seal("DB", []byte("hunter2"))
	if string(sealed) == "hunter2" || len(sealed) < 7+12 {
		t.Fatal("not sealed")
	}
	if v, err := b.Open("DB", sealed); err != nil || string(v) != "hunter2" {
		t.Fatalf("open = %q, %v", v, err)
	}
	if _, err := b.Open("OTHER", sealed); err == nil {
		t.Fatal("a value opened under another name")
	}
	other, _ := secret.NewBox(make([]byte, 32))
	if _, err := other.Open("DB", sealed); err == nil {
		t.Fatal("a value opened with another key")
	}
	if _, err := secret.NewBox([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestLoadCreatesKeyFile(t *testing.T) {
	t.Setenv(secret.EnvVar, "")
	dir := t.TempDir()
	if b, err := secret.Load(dir, false); b != nil || err != nil {
		t.Fatalf("no key and no create: %v %v", b, err)
	}
	b1, err := secret.Load(dir, true)
	if err != nil || b1 == nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, secret.KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", fi.Mode(), err)
	}
	b2, _ := secret.Load(dir, true)
	if v, err := b2.Open("x", b1.Seal("x", []byte("same key"))); err != nil || string(v) != "same key" {
		t.Fatal("the key file was not reused")
	}
	t.Setenv(secret.EnvVar, "not a key")
	if _, err := secret.Load(dir, true); err == nil {
		t.Fatal("a bad env key was accepted")
	}
	t.Setenv(secret.EnvVar, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	if b, err := secret.Load("", false); err != nil || b == nil {
		t.Fatalf("env key: %v", err)
	}
}
