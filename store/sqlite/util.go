package sqlite

import (
	"errors"
	"io/fs"

	"modernc.org/sqlite"
)

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

func asSQLiteError(err error, target **sqlite.Error) bool { return errors.As(err, target) }
