package sqlstore

import "testing"

// TestClaimPiece: a claim asks for its whole limit up to claimLiteralMax,
// and in powers of two above it, so the claim statements a worker
// prepares stay few whatever its concurrency.
func TestClaimPiece(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ left, want int }{
		{1, 1}, {13, 13}, {32, 32}, {33, 32}, {63, 32}, {64, 64}, {100, 64}, {500, 256}, {1024, 1024},
	} {
		if got := claimPiece(c.left); got != c.want {
			t.Errorf("claimPiece(%d) = %d, want %d", c.left, got, c.want)
		}
	}
	seen := map[int]bool{}
	for left := 1; left <= 5000; left++ {
		for l := left; l > 0; l -= claimPiece(l) {
			seen[claimPiece(l)] = true
		}
	}
	if len(seen) > claimLiteralMax+8 {
		t.Errorf("claims of 1..5000 use %d statement sizes", len(seen))
	}
}
