package radius

import "fmt"

// What the gateway shows the user (Reply-Message), in the method's
// language, else [radius] language. Gateways show these on small prompts,
// so they are short; a challenge's text fits one Reply-Message.
type message int

const (
	msgSMS message = iota
	msgCall
	msgCallNoMatch
	msgTOTP
	msgOthers
	msgOptSMS
	msgOptCall
	msgOptTOTP
	msgNotConfirmed
	msgNoOption
	msgWrongCode
	msgExpired
	msgLocked
	msgUserLocked
	msgRateLimited
	msgPhoneBlocked
	msgNoMFA
	msgNoMethod
	msgNoTransaction
	msgCallEnded
	msgFailed
	msgNoUser
	msgCHAP
	msgUpstreamReject
	msgUpstreamChallenge
	msgTAPSigninOff
	msgTAPSpent
)

var messages = map[string][]string{
	"en": {
		msgSMS:               "Enter the code sent by SMS to %s",
		msgCall:              "Answer the call to %s, key %s then # on the phone, then press Enter here",
		msgCallNoMatch:       "Answer the call to %s, press # on the phone, then press Enter here",
		msgTOTP:              "Enter the code from your authenticator app (%s)",
		msgOthers:            "Another way: enter %s",
		msgOptSMS:            "%d for an SMS to %s",
		msgOptCall:           "%d for a call to %s",
		msgOptTOTP:           "%d for your app (%s)",
		msgNotConfirmed:      "The call is not confirmed yet.",
		msgNoOption:          "There is no option %s.",
		msgWrongCode:         "The code is not correct. Sign in again.",
		msgExpired:           "The verification has expired. Sign in again.",
		msgLocked:            "Too many wrong codes for this verification. Sign in again.",
		msgUserLocked:        "Too many failed verifications: MFA sign-in is locked. Contact the help desk.",
		msgRateLimited:       "Too many verifications were started. Try again in %s.",
		msgPhoneBlocked:      "Phone verification is blocked for this account after a fraud report. Contact the help desk.",
		msgNoMFA:             "MFA is not set up for this account.",
		msgNoMethod:          "No verification method of this account can be used here.",
		msgNoTransaction:     "This sign-in is unknown, expired or already answered. Sign in again.",
		msgCallEnded:         "The call was not confirmed. Sign in again.",
		msgFailed:            "The verification failed. Sign in again.",
		msgNoUser:            "Unknown user.",
		msgCHAP:              "This gateway must send the code as User-Password (PAP), not CHAP.",
		msgUpstreamReject:    "The user name or password is not correct.",
		msgUpstreamChallenge: "The directory server asked for another verification, which this gateway does not support. Contact the help desk.",
		msgTAPSigninOff:      "A Temporary Access Pass cannot sign in here; use it to register a new method.",
		msgTAPSpent:          "This Temporary Access Pass has expired or was already used. Contact the help desk.",
	},
	"ja": {
		msgSMS:               "%s にSMSで送信したコードを入力してください",
		msgCall:              "%s への電話に出て %s と # を押してから、ここで Enter を押してください",
		msgCallNoMatch:       "%s への電話に出て # を押してから、ここで Enter を押してください",
		msgTOTP:              "認証アプリ（%s）のコードを入力してください",
		msgOthers:            "別の方法: %s",
		msgOptSMS:            "%d を入力で %s へSMS",
		msgOptCall:           "%d を入力で %s へ電話",
		msgOptTOTP:           "%d を入力で認証アプリ（%s）",
		msgNotConfirmed:      "電話での確認がまだ済んでいません。",
		msgNoOption:          "%s という選択肢はありません。",
		msgWrongCode:         "コードが正しくありません。もう一度サインインしてください。",
		msgExpired:           "確認の有効期限が切れました。もう一度サインインしてください。",
		msgLocked:            "この確認で誤ったコードが多すぎました。もう一度サインインしてください。",
		msgUserLocked:        "確認の失敗が多すぎたため、MFA サインインがロックされました。ヘルプデスクに連絡してください。",
		msgRateLimited:       "確認の開始が多すぎます。%s 後にもう一度お試しください。",
		msgPhoneBlocked:      "不正の報告により、このアカウントの電話での確認は停止されています。ヘルプデスクに連絡してください。",
		msgNoMFA:             "このアカウントでは MFA が設定されていません。",
		msgNoMethod:          "このアカウントの確認方法はここでは使えません。",
		msgNoTransaction:     "このサインインは不明か、期限切れか、回答済みです。もう一度サインインしてください。",
		msgCallEnded:         "電話で確認されませんでした。もう一度サインインしてください。",
		msgFailed:            "確認に失敗しました。もう一度サインインしてください。",
		msgNoUser:            "ユーザーが不明です。",
		msgCHAP:              "このゲートウェイはコードを CHAP ではなく User-Password（PAP）で送る必要があります。",
		msgUpstreamReject:    "ユーザー名またはパスワードが正しくありません。",
		msgUpstreamChallenge: "ディレクトリサーバーが別の確認を求めましたが、このゲートウェイは対応していません。ヘルプデスクに連絡してください。",
		msgTAPSigninOff:      "一時アクセスパスはここではサインインに使えません。新しい確認方法の登録に使ってください。",
		msgTAPSpent:          "この一時アクセスパスは期限切れか使用済みです。ヘルプデスクに連絡してください。",
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
