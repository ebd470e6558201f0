package pi

import "fmt"

// What the plugins show the user, in the method's language (Japanese or
// English, as the SMS and the call are). privacyIDEA's texts are one per
// server; these follow the user.
type message int

const (
	msgSMS message = iota
	msgCall
	msgCallNoMatch
	msgKey
	msgTOTP
)

var messages = map[string][]string{
	"en": {
		msgSMS:         "Enter the code sent by SMS to %s",
		msgCall:        "Answer the call to %s and key %s then # on the phone",
		msgCallNoMatch: "Answer the call to %s and press # on the phone",
		msgKey:         "Confirm with your security key (%s)",
		msgTOTP:        "Enter the code from your authenticator app (%s)",
	},
	"ja": {
		msgSMS:         "%s にSMSで送信したコードを入力してください",
		msgCall:        "%s への電話に出て、%s と # を押してください",
		msgCallNoMatch: "%s への電話に出て、# を押してください",
		msgKey:         "セキュリティキー（%s）で確認してください",
		msgTOTP:        "認証アプリ（%s）のコードを入力してください",
	},
}

// say words m in lang, English when the language has no texts.
func say(lang string, m message, args ...any) string {
	t, ok := messages[lang]
	if !ok {
		t = messages["en"]
	}
	return fmt.Sprintf(t[m], args...)
}
