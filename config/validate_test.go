package config

import (
	"errors"
	"strings"
	"testing"
)

// Each bad value is reported once, naming its key and line, with what is
// allowed.
func TestBadValues(t *testing.T) {
	hash := strings.Repeat("0f", 32)
	client := func(extra string) string {
		return "[[api.client]]\nname = \"idp\"\ntoken_sha256 = \"" + hash + "\"\nroles = [\"idp\"]\n" + extra
	}
	// A modem entry of four lines; keys added after it belong to it.
	modem := func(id, port string) string {
		return "[[modem]]\nid = \"" + id + "\"\nport = \"" + port + "\"\nprofile = \"quectel\"\n"
	}
	// [fido] with an rp_id on line 2 and the origin on line 3.
	fido := func(origin string) string {
		return "[fido]\nrp_id = \"login.example.ac.jp\"\norigin = \"" + origin + "\"\n"
	}
	tests := []struct {
		name string
		src  string
		key  string
		line int
		msg  string
	}{
		{"tap_max_lifetime too short", "[policy]\ntap_max_lifetime = \"5m\"", "policy.tap_max_lifetime", 2, "must be at least 10m (a Temporary Access Pass lives 10 minutes to 30 days)"},
		{"tap_max_lifetime over 30 days", "[policy]\ntap_max_lifetime = \"721h\"", "policy.tap_max_lifetime", 2, "must be at most 720h (a Temporary Access Pass lives 10 minutes to 30 days)"},
		{"tap_allowed_for idp", "[policy]\ntap_allowed_for = [\"enroll\", \"idp\"]", "policy.tap_allowed_for[1]", 2, `an "idp" client verifies sign-ins`},
		{"tap_allowed_for unknown", "[policy]\ntap_allowed_for = [\"helpdesk\"]", "policy.tap_allowed_for[0]", 2, `is not a role that may issue passes; use "enroll" or "admin"`},
		{"tap_allowed_for twice", "[policy]\ntap_allowed_for = [\"admin\", \"admin\"]", "policy.tap_allowed_for[1]", 2, "is listed twice"},
		{"listen not host:port", "[server]\nlisten = \"8470\"", "server.listen", 2, `must be "host:port"`},
		{"listen port not numeric", "[server]\nlisten = \"localhost:http\"", "server.listen", 2, "port must be a number from 1 to 65535"},
		{"listen port too big", "[server]\nlisten = \"127.0.0.1:70000\"", "server.listen", 2, "port must be a number from 1 to 65535"},
		{"listen bad host", "[server]\nlisten = \"bad host:80\"", "server.listen", 2, "neither an IP address nor a host name"},
		{"listen relative unix", "[server]\nlisten = \"unix:api.sock\"", "server.listen", 2, "socket path must be absolute"},
		{"listen long unix", "[server]\nlisten = \"unix:/" + strings.Repeat("a", 120) + "\"", "server.listen", 2, "at most 107"},
		{"read_timeout zero", "[server]\nread_timeout = \"0s\"", "server.read_timeout", 2, "must be at least 1s"},
		{"write_timeout below long poll", "[server]\n\nwrite_timeout = \"25s\"", "server.write_timeout", 3, "must be longer than 25s"},
		{"write_timeout too long", "[server]\nwrite_timeout = \"11m\"", "server.write_timeout", 2, "must be at most 10m"},
		{"idle_timeout too long", "[server]\nidle_timeout = \"2h\"", "server.idle_timeout", 2, "must be at most 1h"},
		{"shutdown_timeout negative", "[server]\nshutdown_timeout = \"-1s\"", "server.shutdown_timeout", 2, "must be at least 1s"},
		{"node with a space", "[server]\nnode = \"lab 1\"", "server.node", 2, "letters, digits"},
		{"lease too short", "[store]\nlease = \"1s\"", "store.lease", 2, "must be at least 3s"},
		{"retention_challenges an hour", "[store]\nretention_challenges = \"1h\"", "store.retention_challenges", 2, "must be 0 (keep forever) or at least 1d: an identity provider reads"},
		{"retention_outbox negative", "[store]\nretention_outbox = \"-1d\"", "store.retention_outbox", 2, `is not a duration`},
		{"retention_outbox negative hours", "[store]\nretention_outbox = \"-24h\"", "store.retention_outbox", 2, "must not be negative (0 keeps the records forever)"},
		{"retention_audit 23h", "[store]\nretention_audit = \"23h\"", "store.retention_audit", 2, "at least 1d: the audit log"},
		{"retention days garbled", "[store]\nretention_audit = \"xd\"", "store.retention_audit", 2, `like "30s", "5m", "1h" or "30d"`},
		{"driver postgres without dsn", "[store]\ndriver = \"postgres\"", "store.dsn", 1, "must name the PostgreSQL database"},
		{"dsn with password", "[store]\ndriver = \"postgres\"\ndsn = \"host=db user=m password=secret\"", "store.dsn", 3, "must not contain a password"},
		{"dsn url with password", "[store]\ndriver = \"postgres\"\ndsn = \"postgres://m:secret@db/mfagate\"", "store.dsn", 3, "must not contain a password"},
		{"unknown driver", "[store]\ndriver = \"mysql\"", "store.driver", 2, "\"sqlite\" or \"postgres\""},
		{"driver unknown", "[store]\ndriver = \"mysql\"", "store.driver", 2, `must be "sqlite"`},
		{"store path empty", "[store]\npath = \"\"", "store.path", 2, "must name the SQLite database file"},
		{"key_file empty", "[secrets]\nkey_file = \"\"", "secrets.key_file", 2, "32-byte server key"},
		{"client name bad", client("") + "[[api.client]]\nname = \"bad name\"\ntoken_sha256 = \"" + strings.Repeat("1f", 32) + "\"\nroles = [\"admin\"]\n", "api.client[1].name", 6, "letters, digits"},
		{"client name twice", client("") + "[[api.client]]\nname = \"idp\"\ntoken_sha256 = \"" + strings.Repeat("1f", 32) + "\"\nroles = [\"admin\"]\n", "api.client[1].name", 6, "already the name of api.client[0]"},
		{"client without token", "[[api.client]]\nname = \"idp\"\nroles = [\"idp\"]\n", "api.client[0]", 1, "needs token_sha256"},
		{"client with both tokens", client("token_file = \"x.token\"\n"), "api.client[0]", 1, "has both token_sha256 and token_file"},
		{"token_sha256 short", "[[api.client]]\nname = \"idp\"\ntoken_sha256 = \"abcd\"\nroles = [\"idp\"]\n", "api.client[0].token_sha256", 3, "must be 64 hex characters"},
		{"token_sha256 not hex", "[[api.client]]\nname = \"idp\"\ntoken_sha256 = \"" + strings.Repeat("zz", 32) + "\"\nroles = [\"idp\"]\n", "api.client[0].token_sha256", 3, "must be 64 hex characters"},
		{"same token twice", client("") + "[[api.client]]\nname = \"ctl\"\ntoken_sha256 = \"" + hash + "\"\nroles = [\"admin\"]\n", "api.client[1]", 5, "same token as api.client[0]"},
		{"roles empty", "[[api.client]]\nname = \"idp\"\ntoken_sha256 = \"" + hash + "\"\nroles = []\n", "api.client[0].roles", 4, `at least one of "idp", "enroll", "admin"`},
		{"roles missing", "[[api.client]]\nname = \"idp\"\ntoken_sha256 = \"" + hash + "\"\n", "api.client[0].roles", 1, "at least one of"},
		{"role unknown", "[[api.client]]\nname = \"idp\"\ntoken_sha256 = \"" + hash + "\"\nroles = [\"idp\",\n  \"root\"]\n", "api.client[0].roles[1]", 5, "is not a role"},
		{"role twice", "[[api.client]]\nname = \"idp\"\ntoken_sha256 = \"" + hash + "\"\nroles = [\"idp\", \"idp\"]\n", "api.client[0].roles[1]", 4, "listed twice"},
		{"code_length small", "[policy]\ncode_length = 4", "policy.code_length", 2, "must be from 6 to 10"},
		{"code_length big", "[policy]\ncode_length = 11", "policy.code_length", 2, "must be from 6 to 10"},
		{"code_ttl long", "[policy]\ncode_ttl = \"15m\"", "policy.code_ttl", 2, "must be at most 10m (NIST SP 800-63B limits out-of-band codes to 10 minutes)"},
		{"code_ttl short", "[policy]\ncode_ttl = \"10s\"", "policy.code_ttl", 2, "must be at least 30s"},
		{"max_attempts zero", "[policy]\nmax_attempts = 0", "policy.max_attempts", 2, "must be from 1 to 10"},
		{"max_consecutive_failures over NIST", "[policy]\nmax_consecutive_failures = 101", "policy.max_consecutive_failures", 2, "at most 100 consecutive failures"},
		{"phone_challenges_per_user zero", "[policy]\nphone_challenges_per_user = 0", "policy.phone_challenges_per_user", 2, "must be from 1 to 100"},
		{"phone_challenge_window short", "[policy]\nphone_challenge_window = \"30s\"", "policy.phone_challenge_window", 2, "must be at least 1m"},
		{"phone_challenge_window long", "[policy]\nphone_challenge_window = \"25h\"", "policy.phone_challenge_window", 2, "must be at most 24h"},
		{"activation_delay negative", "[policy]\nactivation_delay = \"-1m\"", "policy.activation_delay", 2, "must not be negative"},
		{"activation_delay long", "[policy]\nactivation_delay = \"169h\"", "policy.activation_delay", 2, "must be at most 168h"},
		{"proof_max_age long", "[policy]\nproof_max_age = \"11m\"", "policy.proof_max_age", 2, "must be at most 10m"},
		{"user_id_pattern unanchored", "[policy]\nuser_id_pattern = '[0-9]+'", "policy.user_id_pattern", 2, "anchored"},
		{"user_id_pattern alternation", "[policy]\nuser_id_pattern = '^a+|b+$'", "policy.user_id_pattern", 2, "not anchored as a whole"},
		{"user_id_pattern multiline", "[policy]\nuser_id_pattern = '(?m)^a+$'", "policy.user_id_pattern", 2, "multi-line mode"},
		{"user_id_pattern bad syntax", "[policy]\nuser_id_pattern = '^[0-9$'", "policy.user_id_pattern", 2, "does not compile"},
		{"user_id_pattern empty match", "[policy]\nuser_id_pattern = '^[0-9]*$'", "policy.user_id_pattern", 2, "matches an empty user ID"},
		{"default_region unknown", "[policy]\ndefault_region = \"XX\"", "policy.default_region", 2, "ISO 3166 region code"},
		{"default_region lower case", "[policy]\ndefault_region = \"jp\"\nallowed_regions = [\"JP\"]", "policy.default_region", 2, `write "JP"`},
		{"allowed_regions unknown", "[policy]\nallowed_regions = [\"JP\", \"ZZ\"]", "policy.allowed_regions[1]", 2, "ISO 3166 region code"},
		{"allowed_regions empty", "[policy]\nallowed_regions = []", "policy.allowed_regions", 2, "at least one region"},
		{"allowed_regions without default", "[policy]\nallowed_regions = [\"US\"]", "policy.allowed_regions", 2, `must include policy.default_region "JP"`},
		{"allowed_regions twice", "[policy]\nallowed_regions = [\"JP\", \"JP\"]", "policy.allowed_regions[1]", 2, "listed twice"},
		{"voice_confirmation unknown", "[policy]\nvoice_confirmation = \"press1\"", "policy.voice_confirmation", 2, `must be "number_match"`},
		{"issuer empty", "[totp]\nissuer = \" \"", "totp.issuer", 2, "must name the service"},
		{"issuer colon", "[totp]\nissuer = \"a:b\"", "totp.issuer", 2, "must not contain ':'"},
		{"digits 7", "[totp]\ndigits = 7", "totp.digits", 2, "must be 6 or 8"},
		{"period fractional", "[totp]\nperiod = \"30.5s\"", "totp.period", 2, "whole number of seconds"},
		{"period long", "[totp]\nperiod = \"3m\"", "totp.period", 2, "at least every 2 minutes"},
		{"period short", "[totp]\nperiod = \"10s\"", "totp.period", 2, "must be at least 15s"},
		{"skew 3", "[totp]\nskew = 3", "totp.skew", 2, "must be from 0 to 2"},
		{"default_language", "[messages]\ndefault_language = \"fr\"", "messages.default_language", 2, `must be one of "ja", "en"`},
		{"sms without code", "[messages.en]\nsms = \"hello\"", "messages.en.sms", 2, "must contain {code}"},
		{"sms unknown placeholder", "[messages.ja]\nsms = \"{code} {user}\"", "messages.ja.sms", 2, "unknown placeholder {user}"},
		{"sms empty", "[messages.en]\nsms = \"\"", "messages.en.sms", 2, "must not be empty"},
		{"voice speaks number", "[messages.en]\nvoice_number_match = \"Enter {number}\"", "messages.en.voice_number_match", 2, "must not use {number}"},
		{"voice pound number", "[messages.ja]\nvoice_pound = \"{number}#\"", "messages.ja.voice_pound", 2, "must not use {number}"},
		{"voice code", "[messages.en]\nvoice_pound = \"Your code is {code}\"", "messages.en.voice_pound", 2, "unknown placeholder {code}"},
		{"sms too long GSM", "[messages.en]\nsms = \"{code} " + strings.Repeat("a", 154) + "\"", "messages.en.sms", 2, "161 GSM-7 septets, more than the 160"},
		{"sms too long extension", "[messages.en]\nsms = \"{code} " + strings.Repeat("a", 150) + "[]\"", "messages.en.sms", 2, "161 GSM-7 septets"},
		{"sms UCS-2", "[messages.en]\nsms = \"{code} café ✓ " + strings.Repeat("a", 57) + "\"", "messages.en.sms", 2, `71 UCS-2 characters ('✓' is not in the GSM-7 alphabet), more than the 70`},
		{"sms Japanese too long", "[messages.ja]\nsms = \"{code}" + strings.Repeat("あ", 65) + "\"", "messages.ja.sms", 2, "71 UCS-2 characters"},
		{"modem id missing", "[[modem]]\nport = \"sim:quectel\"\n", "modem[0].id", 1, "must be 1 to 32 letters"},
		{"modem id bad", "[[modem]]\nid = \"ec25 1\"\nport = \"sim:quectel\"\n", "modem[0].id", 2, "must be 1 to 32 letters, digits, '_' or '-'"},
		{"modem id too long", "[[modem]]\nid = \"" + strings.Repeat("m", 33) + "\"\nport = \"sim:quectel\"\n", "modem[0].id", 2, "must be 1 to 32 letters"},
		{"modem id twice", modem("a", "/dev/mfagate/a") + modem("a", "/dev/mfagate/b"), "modem[1].id", 6, "already the id of modem[0]; modem ids must be unique"},
		{"modem port missing", "[[modem]]\nid = \"a\"\nprofile = \"quectel\"\n", "modem[0].port", 1, "is required; it must be an absolute device path"},
		{"modem port relative", modem("a", "/dev/mfagate/a") + modem("b", "ttyUSB0"), "modem[1].port", 7, `must be an absolute device path (ideally a udev symlink like /dev/mfagate/<id>) or "sim:<profile>"`},
		{"modem port twice", modem("a", "/dev/mfagate/a") + modem("b", "/dev/mfagate//a"), "modem[1].port", 7, "already the port of modem[0]; each modem needs a port of its own"},
		{"modem sim unknown profile", "[[modem]]\nid = \"a\"\nport = \"sim:nokia\"\n", "modem[0].port", 3, `"nokia" is not a modem profile; a simulated modem is "sim:" and one of "quectel", "simcom", "huawei", "generic"`},
		{"modem sim without profile", "[[modem]]\nid = \"a\"\nport = \"sim:\"\n", "modem[0].port", 3, `"" is not a modem profile`},
		{"modem sim profile differs", "[[modem]]\nid = \"a\"\nport = \"sim:quectel\"\nprofile = \"simcom\"\n", "modem[0].profile", 4, `must be "quectel", the profile port "sim:quectel" simulates, or be left out`},
		{"modem profile missing", "[[modem]]\nid = \"a\"\nport = \"/dev/mfagate/a\"\n", "modem[0].profile", 1, `is required for a device port: one of "quectel", "simcom", "huawei", "generic"`},
		{"modem profile unknown", "[[modem]]\nid = \"a\"\nport = \"/dev/mfagate/a\"\nprofile = \"sierra\"\n", "modem[0].profile", 4, `is not a modem profile; profiles are "quectel", "simcom", "huawei", "generic"`},
		{"modem channels empty", modem("a", "/dev/mfagate/a") + "channels = []\n", "modem[0].channels", 5, `must list at least one of "sms", "voice"`},
		{"modem channel unknown", modem("a", "/dev/mfagate/a") + "channels = [\"sms\", \"fax\"]\n", "modem[0].channels[1]", 5, `is not a channel; channels are "sms", "voice"`},
		{"modem channel twice", modem("a", "/dev/mfagate/a") + "channels = [\"voice\",\n  \"voice\"]\n", "modem[0].channels[1]", 6, "listed twice"},
		{"modem daily_cap negative", modem("a", "/dev/mfagate/a") + "daily_cap = -1\n", "modem[0].daily_cap", 5, "must be from 0 to 10000 SMS per day; 0 means no cap"},
		{"modem daily_cap too big", modem("a", "/dev/mfagate/a") + "daily_cap = 10001\n", "modem[0].daily_cap", 5, "must be from 0 to 10000"},
		{"modem daily_cap without sms", modem("a", "/dev/mfagate/a") + "channels = [\"voice\"]\ndaily_cap = 200\n", "modem[0].daily_cap", 6, `counts SMS, but this modem has no "sms" channel`},
		{"modem baud unusual", modem("a", "/dev/mfagate/a") + "baud = 115201\n", "modem[0].baud", 5, "must be one of 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600 (default 115200)"},
		{"modem baud zero", modem("a", "/dev/mfagate/a") + "baud = 0\n", "modem[0].baud", 5, "must be one of 9600"},
		{"modem inline", "modem = [\n  { id = \"a\", port = \"sim:huawei\" },\n  { id = \"b\", port = \"dev/x\", profile = \"generic\" },\n]\n", "modem[1].port", 3, "must be an absolute device path"},
		{"ring_timeout short", "[voice]\nring_timeout = \"4s\"", "voice.ring_timeout", 2, "must be at least 5s (how long a call may ring before it counts as no answer)"},
		{"ring_timeout long", "[voice]\nring_timeout = \"121s\"", "voice.ring_timeout", 2, "must be at most 2m"},
		{"input_timeout short", "[voice]\n\ninput_timeout = \"0s\"", "voice.input_timeout", 3, "must be at least 5s (how long to wait for the callee's keys)"},
		{"input_timeout long", "[voice]\ninput_timeout = \"3m\"", "voice.input_timeout", 2, "must be at most 2m"},
		{"rp_id empty", "[fido]\nrp_id = \"\"", "fido.rp_id", 2, `is empty; it must be a domain name in lower case`},
		{"rp_id URL", "[fido]\nrp_id = \"https://Login.example.ac.jp/\"", "fido.rp_id", 2, `is a URL; write only its host name: "login.example.ac.jp"`},
		{"rp_id port", "[fido]\nrp_id = \"login.example.ac.jp:443\"", "fido.rp_id", 2, "must not contain a port or path"},
		{"rp_id path", "[fido]\nrp_id = \"example.ac.jp/login\"", "fido.rp_id", 2, "must not contain a port or path"},
		{"rp_id upper case", "[fido]\nrp_id = \"Login.Example.ac.jp\"", "fido.rp_id", 2, `must be in lower case, as browsers compare it: write "login.example.ac.jp"`},
		{"rp_id IPv4", "[fido]\nrp_id = \"192.0.2.1\"", "fido.rp_id", 2, "must be a domain name, not an IP address"},
		{"rp_id IPv6", "[fido]\nrp_id = \"[2001:db8::1]\"", "fido.rp_id", 2, "must be a domain name, not an IP address"},
		{"rp_id single label", "[fido]\nrp_id = \"intranet\"", "fido.rp_id", 2, "is a single label, which is not a registrable domain"},
		{"rp_id underscore", "[fido]\nrp_id = \"login_idp.example.jp\"", "fido.rp_id", 2, `must be a domain name in lower case (an internationalized one in its xn-- form), without scheme, port or path, like "login.example.ac.jp"`},
		{"rp_id unicode", "[fido]\nrp_id = \"ログイン.example.jp\"", "fido.rp_id", 2, "in its xn-- form"},
		{"rp_id trailing dot", "[fido]\nrp_id = \"example.jp.\"", "fido.rp_id", 2, "must be a domain name in lower case"},
		{"rp_id label too long", "[fido]\nrp_id = \"" + strings.Repeat("a", 64) + ".example.jp\"", "fido.rp_id", 2, "must be a domain name in lower case"},
		{"rp_id too long", "[fido]\nrp_id = \"" + strings.Repeat("abcdefg.", 32) + "jp\"", "fido.rp_id", 2, "is 258 bytes long; a domain name has at most 253"},
		{"rp_name blank", "[fido]\nrp_name = \" \"", "fido.rp_name", 2, `must name the service, as browsers and security keys show it (default "mfagate")`},
		{"rp_name control", "[fido]\nrp_name = \"a\\tb\"", "fido.rp_name", 2, "must not contain control characters"},
		{"rp_name too long", "[fido]\nrp_name = \"" + strings.Repeat("認", 65) + "\"", "fido.rp_name", 2, "is 65 characters long; use at most 64"},
		{"origin other site", fido("https://evil.example"), "fido.origin", 3, `the origin's host must be fido.rp_id ("login.example.ac.jp") or a subdomain of it (WebAuthn)`},
		{"origin parent domain", fido("https://example.ac.jp"), "fido.origin", 3, `must be fido.rp_id ("login.example.ac.jp") or a subdomain of it`},
		{"origin suffix without dot", fido("https://evillogin.example.ac.jp"), "fido.origin", 3, `must be fido.rp_id ("login.example.ac.jp") or a subdomain of it`},
		{"origin http", fido("http://login.example.ac.jp"), "fido.origin", 3, `must use https; plain http is allowed only for "http://localhost", for testing`},
		{"origin no scheme", fido("login.example.ac.jp"), "fido.origin", 3, `must be "https://" and a host name, with a port only if it is not 443, like "https://login.example.ac.jp"`},
		{"origin other scheme", fido("wss://login.example.ac.jp"), "fido.origin", 3, `must be "https://" and a host name`},
		{"origin empty", "[fido]\norigin = \"\"", "fido.origin", 2, `must be "https://" and a host name`},
		{"origin trailing slash", fido("https://login.example.ac.jp/"), "fido.origin", 3, `is not written as browsers send it (scheme, host and a port other than the default; no path): write "https://login.example.ac.jp"`},
		{"origin path", fido("https://login.example.ac.jp/idp/login?x=1"), "fido.origin", 3, `write "https://login.example.ac.jp"`},
		{"origin default port", fido("https://login.example.ac.jp:443"), "fido.origin", 3, `write "https://login.example.ac.jp"`},
		{"origin upper-case scheme", fido("HTTPS://login.example.ac.jp:8443"), "fido.origin", 3, `write "https://login.example.ac.jp:8443"`},
		{"origin upper-case host", fido("https://Login.example.ac.jp"), "fido.origin", 3, `the host must be in lower case, as browsers compare it: write "login.example.ac.jp"`},
		{"origin IP", fido("https://192.0.2.1"), "fido.origin", 3, "the host must be a domain name, not an IP address"},
		{"origin port too big", fido("https://login.example.ac.jp:70000"), "fido.origin", 3, "the port must be a number from 1 to 65535"},
		{"origin port zero", fido("https://login.example.ac.jp:0"), "fido.origin", 3, "the port must be a number from 1 to 65535"},
		{"origin user", fido("https://admin@login.example.ac.jp"), "fido.origin", 3, "must not contain a user name"},
		{"origin default rp_id", "[fido]\norigin = \"https://login.example.ac.jp\"", "fido.origin", 2, `must be fido.rp_id ("localhost") or a subdomain of it`},
		{"min_pin_length short", "[fido]\nmin_pin_length = 3", "fido.min_pin_length", 2, "must be from 4 to 63 (CTAP2 PINs are 4 to 63 bytes)"},
		{"min_pin_length long", "[fido]\nmin_pin_length = 64", "fido.min_pin_length", 2, "must be from 4 to 63"},
		{"user_verification unknown", "[fido]\nuser_verification = \"always\"", "fido.user_verification", 2, `must be "required" (a PIN or fingerprint at every use), "preferred" or "discouraged"`},
		{"user_verification upper case", "[fido]\nuser_verification = \"Required\"", "fido.user_verification", 2, `must be "required"`},
		{"aaguid without dashes", "[fido]\naaguid_allow = [\"cb69481e8ff7403993ec0a2729a154a8\"]", "fido.aaguid_allow[0]", 2, `must be an AAGUID, a UUID like "cb69481e-8ff7-4039-93ec-0a2729a154a8"`},
		{"aaguid not hex", "[fido]\naaguid_allow = [\"cb69481e-8ff7-4039-93ec-0a2729a154ag\"]", "fido.aaguid_allow[0]", 2, "must be an AAGUID"},
		{"aaguid name", "[fido]\naaguid_allow = [\n  \"cb69481e-8ff7-4039-93ec-0a2729a154a8\",\n  \"YubiKey 5\",\n]", "fido.aaguid_allow[1]", 4, "must be an AAGUID"},
		{"aaguid twice in other case", "[fido]\naaguid_allow = [\n  \"cb69481e-8ff7-4039-93ec-0a2729a154a8\",\n  \"CB69481E-8FF7-4039-93EC-0A2729A154A8\",\n]", "fido.aaguid_allow[1]", 4, "is already listed as fido.aaguid_allow[0]"},
		{"attestation unknown", "[fido]\nattestation = \"none\"", "fido.attestation", 2, `must be "optional" (keys without attestation are enrolled too) or "required"`},
		{"trusted_ca_file missing", "[fido]\nattestation = \"required\"\ntrusted_ca_file = \"roots.pem\"", "fido.trusted_ca_file", 3, "roots.pem does not exist"},
		{"device path relative", "[fido]\ndevice_paths = [\"hidraw3\"]", "fido.device_paths[0]", 2, `must be an absolute device path, like "/dev/hidraw3" or a software key's pty`},
		{"device path empty", "[fido]\ndevice_paths = [\"/dev/hidraw3\", \"\"]", "fido.device_paths[1]", 2, "must be an absolute device path"},
		{"device path twice", "[fido]\ndevice_paths = [\n  \"/dev/pts/4\",\n  \"/dev//pts/./4\",\n]", "fido.device_paths[1]", 4, "is already listed as fido.device_paths[0]"},
		{"poll_interval short", "[fido]\npoll_interval = \"100ms\"", "fido.poll_interval", 2, "must be at least 200ms (how often keys are looked for)"},
		{"poll_interval long", "[fido]\npoll_interval = \"11s\"", "fido.poll_interval", 2, "must be at most 10s"},
		{"touch_timeout short", "[fido]\ntouch_timeout = \"4s\"", "fido.touch_timeout", 2, "must be at least 5s (how long the kiosk waits for a touch)"},
		{"touch_timeout long", "[fido]\ntouch_timeout = \"2m1s\"", "fido.touch_timeout", 2, "must be at most 2m"},
		{"session_ttl short", "[fido]\nsession_ttl = \"59s\"", "fido.session_ttl", 2, "must be at least 1m (how long a kiosk enrollment session lives)"},
		{"session_ttl long", "[fido]\nsession_ttl = \"3h\"", "fido.session_ttl", 2, "must be at most 2h"},
		{"session_ttl negative", "[fido]\nsession_ttl = \"-15m\"", "fido.session_ttl", 2, "must be at least 1m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), t.TempDir())
			ps := Problems(err)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(ps), err)
			}
			p := ps[0]
			if p.Key != tt.key || p.Line != tt.line || !strings.Contains(p.Msg, tt.msg) {
				t.Errorf("got  %v\nwant key %s, line %d, message containing %q", p, tt.key, tt.line, tt.msg)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error text does not name the key: %v", err)
			}
		})
	}
}

// SMS length limits are reached exactly: a text that fits with the
// configured code length passes, one character more fails, and the check
// uses the longest code (code_length digits) and the configured issuer.
func TestSMSSegmentBoundary(t *testing.T) {
	fits := "[messages.en]\nsms = \"{code} " + strings.Repeat("a", 153) + "\"" // 6+1+153 = 160
	if _, err := Parse([]byte(fits), ""); err != nil {
		t.Errorf("160-septet SMS refused: %v", err)
	}
	if _, err := Parse([]byte(fits+"\n[policy]\ncode_length = 7"), ""); err == nil {
		t.Error("SMS of 161 septets with a 7-digit code accepted")
	}
	ja := "[messages.ja]\nsms = \"{issuer}{code}" + strings.Repeat("あ", 57) + "\"" // 7+6+57 = 70
	if _, err := Parse([]byte(ja), ""); err != nil {
		t.Errorf("70-unit UCS-2 SMS refused: %v", err)
	}
	_, err := Parse([]byte(ja+"\n[totp]\nissuer = \"mfagate2\""), "")
	ps := Problems(err)
	if len(ps) != 1 || ps[0].Key != "messages.ja.sms" || !strings.Contains(ps[0].Msg, `the issuer "mfagate2"`) {
		t.Errorf("a longer issuer should push the Japanese SMS over 70 units; got %v", err)
	}
}

// The default texts leave room: they fit one SMS with the longest code and
// TTL even with a long issuer name.
func TestDefaultSMSFitWithLongestCode(t *testing.T) {
	src := "[policy]\ncode_length = 10\ncode_ttl = \"10m\"\n[totp]\nissuer = \"UTokyo Account\"\n"
	if _, err := Parse([]byte(src), ""); err != nil {
		t.Errorf("default SMS texts do not fit one SMS with a 10-digit code: %v", err)
	}
}

func TestSMSSize(t *testing.T) {
	tests := []struct {
		text        string
		size, limit int
		forcedBy    rune
	}{
		{"", 0, 160, 0},
		{"code 123456", 11, 160, 0},
		{"€[]", 6, 160, 0},
		{"Ça coûte", 8, 70, 'û'},
		{"確認コード", 5, 70, '確'},
		{"😀", 2, 70, '😀'}, // a surrogate pair is two UCS-2 units
	}
	for _, tt := range tests {
		size, limit, r := smsSize(tt.text)
		if size != tt.size || limit != tt.limit || r != tt.forcedBy {
			t.Errorf("smsSize(%q) = %d, %d, %q; want %d, %d, %q", tt.text, size, limit, r, tt.size, tt.limit, tt.forcedBy)
		}
	}
}

// Validate, without Parse, reports problems by key and fills derived fields.
func TestValidateDirect(t *testing.T) {
	c := Default()
	c.Policy.CodeTTL = D(0)
	c.TOTP.Digits = 9
	c.API.Clients = []Client{{Name: "a", TokenSHA256: strings.Repeat("AB", 32), Roles: []string{RoleIDP}}}
	err := c.Validate()
	var keys []string
	for _, p := range Problems(err) {
		if p.Line != 0 || p.File != "" {
			t.Errorf("Validate problem has a position: %v", p)
		}
		keys = append(keys, p.Key)
	}
	if got, want := strings.Join(keys, " "), "policy.code_ttl totp.digits"; got != want {
		t.Errorf("problem keys = %q, want %q (in field order)", got, want)
	}
	var p *Problem
	if !errors.As(err, &p) {
		t.Error("errors.As cannot find a *Problem")
	}
	if c.API.Clients[0].TokenHash[0] != 0xAB {
		t.Error("Validate did not fill TokenHash from upper-case hex token_sha256")
	}
}

// Temporary Access Passes: by default up to 8h, issued by enroll and admin
// clients, a proof only; an empty list lets nobody issue them.
func TestTAPPolicy(t *testing.T) {
	c, err := Parse([]byte("[policy]\ncode_length = 6\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	p := c.Policy
	if p.TAPMaxLifetime.Duration.String() != "8h0m0s" || strings.Join(p.TAPAllowedFor, ",") != "enroll,admin" || p.TAPSignin {
		t.Fatalf("defaults: max %s allowed %v signin %v", p.TAPMaxLifetime, p.TAPAllowedFor, p.TAPSignin)
	}
	c, err = Parse([]byte("[policy]\ntap_max_lifetime = \"720h\"\ntap_allowed_for = []\ntap_signin = true\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Policy; p.TAPMaxLifetime.Duration.Hours() != 720 || len(p.TAPAllowedFor) != 0 || !p.TAPSignin {
		t.Fatalf("set: max %s allowed %v signin %v", p.TAPMaxLifetime, p.TAPAllowedFor, p.TAPSignin)
	}
}
