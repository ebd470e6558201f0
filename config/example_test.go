package config_test

import (
	"fmt"

	"mfagate/config"
)

func ExampleParse() {
	_, err := config.Parse([]byte(`
[server]
listen = "127.0.0.1:8470"
write_timout = "60s"

[policy]
code_ttl = "15m"
`), "")
	fmt.Println(err)
	// Output:
	// line 4: server.write_timout: unknown key (did you mean server.write_timeout?)
	// line 7: policy.code_ttl = "15m": must be at most 10m (NIST SP 800-63B limits out-of-band codes to 10 minutes)
}

func ExampleRender() {
	c := config.Default()
	fmt.Println(config.Render(c.Messages.For("en").SMS, c.SMSVars("123456")))
	fmt.Println(config.Render(c.Messages.For("ja").SMS, c.SMSVars("123456")))
	// Output:
	// mfagate: your sign-in code is 123456. It expires in 5 minutes. Never share it.
	// 【mfagate】確認コード：123456（5分間有効）。他人に教えないでください。
}
