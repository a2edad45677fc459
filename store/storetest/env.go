package storetest

import "testing"

func testEnvVars(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
