package broker

import (
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// mochi OR-combines OnConnectAuthenticate and OnACLCheck across hooks: a second hook providing either
// could allow what the AWS hook refuses. Exactly one hook may provide them, and it is the AWS hook.
func TestExactlyOneAuthHook(t *testing.T) {
	e := newEnv(t)
	var authHooks, aclHooks []string
	for _, h := range e.Srv.hooks {
		if h.Provides(mqtt.OnConnectAuthenticate) {
			authHooks = append(authHooks, h.ID())
		}
		if h.Provides(mqtt.OnACLCheck) {
			aclHooks = append(aclHooks, h.ID())
		}
	}
	want := e.Srv.hook.ID()
	if len(authHooks) != 1 || authHooks[0] != want {
		t.Errorf("hooks providing OnConnectAuthenticate: %v, want only %q", authHooks, want)
	}
	if len(aclHooks) != 1 || aclHooks[0] != want {
		t.Errorf("hooks providing OnACLCheck: %v, want only %q", aclHooks, want)
	}
	if len(e.Srv.hooks) == 0 || e.Srv.hooks[0] != mqtt.Hook(e.Srv.hook) {
		t.Error("the AWS hook is not the first hook")
	}

	// The guard above is what keeps this from happening: with mochi's allow-all hook added, a client
	// the policy refuses would be let in.
	t.Run("why: an allow-all hook opens mochi", func(t *testing.T) {
		h := new(allowAllHook)
		hooks := mqtt.Hooks{}
		_ = hooks.Add(e.Srv.hook, nil)
		_ = hooks.Add(h, nil)
		if !hooks.OnACLCheck(&mqtt.Client{}, "anything", true) || !hooks.OnConnectAuthenticate(&mqtt.Client{}, packets.Packet{}) {
			t.Error("mochi no longer OR-combines auth hooks; revisit this test")
		}
	})
}

// allowAllHook is mochi's auth.AllowHook (which the module cannot import without yaml.v3): it lets
// everyone connect, publish and subscribe. The benchmark's raw mochi uses it too.
type allowAllHook struct{ mqtt.HookBase }

func (h *allowAllHook) ID() string { return "allow-all" }

func (h *allowAllHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *allowAllHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (h *allowAllHook) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }
