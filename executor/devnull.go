package executor

import (
	"os"
	"sync"
)

// devNull is every task's stdin, opened once for the life of the process
// rather than by exec at every start.
var devNull = sync.OnceValues(func() (*os.File, error) { return os.Open(os.DevNull) })
