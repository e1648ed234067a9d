package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var staticFS embed.FS

// assetHashes maps each asset's path under static/ to a short hash of its
// content, which asset URLs carry so browsers may cache them for good.
var assetHashes = func() map[string]string {
	m := map[string]string{}
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	return m
}()

// assetURL returns the URL of an embedded asset, with its content hash.
func assetURL(name string) string {
	return "/static/" + name + "?v=" + assetHashes[name]
}

// staticHandler serves the embedded assets. A request with the current
// content hash may be cached for a year; others must revalidate.
func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if strings.HasSuffix(name, "/") || name == "" {
			http.NotFound(rw, r)
			return
		}
		if h, ok := assetHashes[name]; ok && r.URL.Query().Get("v") == h {
			rw.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			rw.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(rw, r)
	})
}
