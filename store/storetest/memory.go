package storetest

import "testing"

func testConversations(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
