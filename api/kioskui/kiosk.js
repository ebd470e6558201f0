'use strict';
// The kiosk page: walks one person through the setup guide's four steps
// (first method, alternatives, try signing in, apply for MFA) using the
// session-scoped routes under /kiosk/{id}/api/. All state lives in `S`;
// render() rebuilds the view from it, so switching language keeps
// everything the person typed or started.
(() => {
  const TEXT = {
    en: {
      title: 'Multi-factor authentication setup',
      langSwitch: '日本語',
      account: 'Account {user}',
      step: 'Step {n}',
      'step1': 'First method', 'step2': 'Alternatives', 'step3': 'Try signing in', 'step4': 'Apply for MFA',
      loading: 'Loading…',
      sessionEnds: 'This session ends at {time}.',
      ended: 'This session has ended.',
      endedHint: 'Nothing more can be done on this screen. Ask the staff for a new session to continue.',
      cancel: 'Cancel', back: 'Back', continue: 'Continue', tryAgain: 'Try again', confirm: 'Confirm',
      s1Title: 'Step 1: Register your first verification method',
      s1Intro: 'Choose the method you will use most often. The first method you register becomes your default sign-in method: it is what you will be asked for when you sign in.',
      s2AddTitle: 'Add another verification method',
      kindTotp: 'Authenticator app', kindTotpHint: 'Microsoft Authenticator, Google Authenticator or another app on your smartphone shows a {n}-digit code.',
      kindPhone: 'Phone', kindPhoneHint: 'Receive an SMS with a code, or a call that you confirm on the keypad.',
      kindFido: 'Security key', kindFidoHint: 'A FIDO2 key plugged into this kiosk, protected by a PIN.',
      fidoNotDefault: 'A security key cannot be your default method (some systems cannot use it). Also register an app or a phone.',
      totpTitle: 'Set up your authenticator app',
      totpScan: 'In the app, add an account and scan this QR code.',
      totpManual: 'Cannot scan? Enter this key by hand (time-based):',
      totpCodeLabel: 'Enter the {n}-digit code the app shows now',
      totpNote: 'The code changes every 30 seconds. If it is refused, enter the newest one.',
      phoneTitle: 'Register a phone',
      phoneNumber: 'Phone number',
      phoneNumberHint: 'Example: 090-1234-5678 or +81 90 1234 5678',
      phoneSlot: 'Which phone is it?',
      slotMobile: 'Mobile phone', slotAlternate: 'Alternate phone', slotOffice: 'Office phone',
      phoneChannel: 'How should we reach it?',
      chSms: 'SMS with a code', chVoice: 'Voice call',
      phoneSubmit: 'Send',
      smsSentTo: 'We are sending a {n}-digit code by SMS to {phone}.',
      smsCodeLabel: 'Enter the {n}-digit code from the SMS',
      voiceTitle: 'Answer the call',
      voiceCalling: 'We are calling {phone}. When you answer, key in this number and then #:',
      voiceFraud: 'If you did not expect this call, key 0# to report it.',
      keyTitle: 'Register a security key',
      keyInsert: 'Insert your security key into the kiosk\u2019s USB port.',
      keyFound: 'Key found: {product}.',
      keySetPin: 'This key has no PIN yet. Choose a PIN of at least {n} characters. You will need it every time you use the key.',
      keyEnterPin: 'Enter your key\u2019s PIN.',
      pinLabel: 'PIN', pin2Label: 'PIN again',
      pinMismatch: 'The two PINs differ. Type the same PIN twice.',
      pinShort: 'The PIN is too short: use at least {n} characters.',
      keyRegister: 'Register the key',
      keyUseKey: 'Use the key',
      keyWaiting: 'Waiting for the key…',
      keyTouch: 'Touch your security key now (it blinks).',
      keyDone: 'Your security key is registered.',
      keyStillRunning: 'The key is still finishing its last request. Wait a few seconds and try again.',
      keyCancelNote: 'Cancel stops the request on the key; then you can start again.',
      registered: '{label} is registered.',
      s2Title: 'Step 2: Add alternative methods',
      s2Intro: 'If your only method stops working (lost or replaced phone, broken key), you could be locked out of your account. Register more than one method.',
      singleWarn: 'You have only one verification method. If it stops working you will be locked out. Add another one now.',
      noDefaultWarn: 'You have no default method yet: register an authenticator app or a phone.',
      yourMethods: 'Your verification methods',
      defaultBadge: 'default',
      makeDefault: 'Make default',
      notOffered: 'App passwords and e-mail are not offered here: they cannot be used to verify a sign-in.',
      addMore: 'Add a method',
      toStep3: 'Continue to step 3',
      defaultChanged: 'Your default method is now {label}.',
      s3Title: 'Step 3: Try signing in',
      s3Intro: 'Check that you can verify your identity. When you sign in, you will be asked for your default method.',
      s3With: 'Verify with: {label}',
      s3Start: 'Start',
      s3Other: 'Use a different verification option',
      s3Choose: 'Choose another method:',
      s3CodeLabel: 'Enter the {n}-digit code',
      s3TotpPrompt: 'Open your authenticator app and enter the code it shows for this account.',
      s3Passed: 'It worked: you can sign in with {label}.',
      s3Failed: 'The sign-in check did not succeed. {reason}',
      toStep4: 'Continue to step 4',
      retryHint: 'Press “Try again” to be called again, or go back and choose another method.',
      s4Title: 'Step 4: Apply for MFA',
      s4Intro: 'After you apply, every sign-in to your account asks for a verification with your methods.',
      s4Need3: 'Finish step 3 (try signing in) first.',
      s4Remember: 'Please remember:',
      rem1: 'When you get a new phone or a new number, register the new one while the old one still works. You need a working method to change your methods.',
      rem2: 'If you lose every registered method, you cannot sign in to your account.',
      rem3: 'You cannot turn MFA off yourself once it is on. Ending MFA use goes through the help desk.',
      s4Apply: 'Apply for MFA',
      s4Pending: 'Applied. MFA takes effect at {time} (in about {minutes} min). Until then you sign in as before.',
      s4Active: 'MFA is on for your account.',
      s4Done: 'Your setup is complete. Press “End session” before you leave the kiosk.',
      endSession: 'End session',
      endedByYou: 'You ended this session. You may leave the kiosk.',
      status: {
        created: 'Waiting for your code.', queued: 'Queued for sending…', sending: 'Sending…', sent: 'Sent. It should arrive shortly.',
        delivered: 'Delivered to your phone.', calling: 'Calling your phone…', answered: 'Answered: key in the number, then #.',
        approved: 'Confirmed.', denied: 'Refused on the phone.', no_answer: 'The call was not answered.', busy: 'The line was busy.',
        expired: 'This request has expired.', failed: 'It could not be delivered.', locked: 'Too many wrong codes.',
      },
      fraud: 'The call was reported as unexpected (0#). Phone verification is now blocked for this account: ask the staff.',
      err: {
        network: 'The gateway did not answer. Check the network cable and try again, or ask the staff.',
        generic: 'Something went wrong: {detail}',
        invalid_code: 'That code is not correct. {n} attempts left: check the code and enter it again.',
        invalid_code_nocount: 'That code is not correct. Check it and enter it again.',
        invalid_code_format: 'Enter exactly {n} digits.',
        replayed_code: 'That code was already used. Wait for the app to show a new code and enter it.',
        challenge_expired: 'The code has expired. Start again to get a new one.',
        challenge_locked: 'Too many wrong codes. Start again to get a new code.',
        challenge_finished: 'This request is already finished. Start again.',
        invalid_phone: 'This is not a valid phone number. Check it and enter it again (for example 090-1234-5678).',
        not_a_mobile_number: 'This number cannot receive SMS. Choose a voice call instead.',
        region_not_allowed: 'Numbers from this country or of this type are not accepted. Use a Japanese mobile or landline number.',
        slot_taken: 'This phone slot already holds a number. Choose another slot.',
        rate_limited: 'Too many phone requests just now. Wait {n} seconds, or use an authenticator app.',
        phone_blocked: 'Phone verification is blocked for this account after a reported call. Ask the staff.',
        phone_delivery_unavailable: 'Phones cannot be reached right now. Use an authenticator app or ask the staff.',
        user_locked: 'This account is locked after too many failed verifications. Ask the staff.',
        proof_required: 'MFA is already on: verify with an existing method in step 3 first, then add the method.',
        no_test_signin: 'Try signing in (step 3) after your last change before applying.',
        no_confirmed_method: 'Register a method first (step 1).',
        no_default_method: 'Choose a default method first.',
        session_busy: 'The security key is still busy. Wait a few seconds and try again.',
        unknown_device: 'This security key is no longer plugged in. Insert it and try again.',
        pin_too_short: 'This PIN is too short. Choose one of at least {n} characters.',
        fido_cannot_be_default: 'A security key cannot be the default method. Choose an app or a phone.',
        channel_not_possible: 'This phone cannot be reached that way. Choose the other option.',
        method_not_confirmed: 'This method is not confirmed yet.',
        challenge_not_approved: 'The call has not been confirmed yet. Wait for it to finish.',
      },
      key: {
        wrong_pin: 'Wrong PIN. {n} tries left before the key locks. Enter the PIN again.',
        pin_blocked: 'This key\u2019s PIN is blocked. The key must be reset (which erases it). Use another key or ask the staff.',
        pin_auth_blocked: 'Too many wrong PINs in a row. Remove the key, insert it again, then enter the PIN.',
        has_pin: 'This key already has a PIN. Enter it.',
        pin_policy: 'The key does not accept this PIN. Choose one of at least {n} characters.',
        no_touch: 'The key was not touched in time. Try again and touch the key when it blinks.',
        removed: 'The key was removed or did not appear. Insert it and try again.',
        not_fido2: 'This device is not a FIDO2 security key.',
        excluded: 'This key is already registered for your account.',
        no_cred: 'This key is not the one registered for your account. Use the registered key.',
        cancelled: 'The request was cancelled. Try again.',
        not_accepted: 'The key\u2019s answer was not accepted. Try again or use another method.',
        no_pin: 'This key has no PIN yet. Choose a PIN of at least {n} characters.',
        no_answer: 'The key does not answer. Remove it, insert it again and try again.',
        full: 'This key has no room for another account. Use another key.',
        unsupported: 'This key cannot be registered here (it may be an old U2F-only key). Use a FIDO2 key.',
        refused: 'The key refused the request. Try again, or use another key.',
      },
    },
    ja: {
      title: '多要素認証（MFA）の設定',
      langSwitch: 'English',
      account: 'アカウント {user}',
      step: 'ステップ {n}',
      'step1': '最初の認証方法', 'step2': '代わりの認証方法', 'step3': 'サインインを試す', 'step4': 'MFA の利用申請',
      loading: '読み込み中…',
      sessionEnds: 'このセッションは {time} に終了します。',
      ended: 'このセッションは終了しました。',
      endedHint: 'この画面ではこれ以上操作できません。続けるには係員に新しいセッションを依頼してください。',
      cancel: 'キャンセル', back: '戻る', continue: '次へ', tryAgain: 'もう一度', confirm: '確認',
      s1Title: 'ステップ 1：最初の認証方法を登録する',
      s1Intro: 'いちばんよく使う方法を選んでください。最初に登録した方法が「既定のサインイン方法」になり、サインインのときに求められます。',
      s2AddTitle: '認証方法を追加する',
      kindTotp: '認証アプリ', kindTotpHint: 'スマートフォンの Microsoft Authenticator や Google Authenticator などが {n} 桁のコードを表示します。',
      kindPhone: '電話', kindPhoneHint: 'コード付きの SMS を受け取るか、電話を受けてキー操作で確認します。',
      kindFido: 'セキュリティキー', kindFidoHint: 'この端末に挿す FIDO2 キー（PIN で保護）。',
      fidoNotDefault: 'セキュリティキーは既定の方法にできません（使えないシステムがあるため）。認証アプリか電話も登録してください。',
      totpTitle: '認証アプリを設定する',
      totpScan: 'アプリでアカウントを追加し、この QR コードを読み取ってください。',
      totpManual: '読み取れない場合は、このキーを手入力してください（時間ベース）：',
      totpCodeLabel: 'アプリに今表示されている {n} 桁のコードを入力',
      totpNote: 'コードは 30 秒ごとに変わります。受け付けられない場合は最新のコードを入力してください。',
      phoneTitle: '電話を登録する',
      phoneNumber: '電話番号',
      phoneNumberHint: '例：090-1234-5678 または +81 90 1234 5678',
      phoneSlot: 'どの電話ですか？',
      slotMobile: '携帯電話', slotAlternate: '代替の電話', slotOffice: '会社の電話',
      phoneChannel: '連絡方法',
      chSms: 'SMS でコードを受け取る', chVoice: '音声通話',
      phoneSubmit: '送信',
      smsSentTo: '{phone} に {n} 桁のコードを SMS で送信しています。',
      smsCodeLabel: 'SMS に書かれた {n} 桁のコードを入力',
      voiceTitle: '電話に出てください',
      voiceCalling: '{phone} に電話をかけています。電話に出たら、この番号を押してから # を押してください：',
      voiceFraud: '心当たりのない電話なら 0# を押して報告してください。',
      keyTitle: 'セキュリティキーを登録する',
      keyInsert: 'セキュリティキーをこの端末の USB ポートに挿してください。',
      keyFound: 'キーを検出しました：{product}',
      keySetPin: 'このキーには PIN がまだありません。{n} 文字以上の PIN を決めてください。キーを使うたびに必要です。',
      keyEnterPin: 'キーの PIN を入力してください。',
      pinLabel: 'PIN', pin2Label: 'PIN（確認）',
      pinMismatch: '2 つの PIN が一致しません。同じ PIN を 2 回入力してください。',
      pinShort: 'PIN が短すぎます。{n} 文字以上にしてください。',
      keyRegister: 'キーを登録',
      keyUseKey: 'キーを使う',
      keyWaiting: 'キーを待っています…',
      keyTouch: 'セキュリティキーに触れてください（点滅しています）。',
      keyDone: 'セキュリティキーを登録しました。',
      keyStillRunning: 'キーが前の処理を終えるところです。数秒待ってからもう一度お試しください。',
      keyCancelNote: 'キャンセルするとキーへの要求を止めます。そのあと最初からやり直せます。',
      registered: '{label} を登録しました。',
      s2Title: 'ステップ 2：代わりの認証方法を追加する',
      s2Intro: '登録した方法が 1 つだけだと、それが使えなくなったとき（スマートフォンの紛失・機種変更、キーの故障など）にアカウントにサインインできなくなるおそれがあります。複数登録してください。',
      singleWarn: '認証方法が 1 つしかありません。使えなくなるとサインインできなくなります。今すぐもう 1 つ追加してください。',
      noDefaultWarn: '既定の方法がまだありません。認証アプリか電話を登録してください。',
      yourMethods: '登録済みの認証方法',
      defaultBadge: '既定',
      makeDefault: '既定にする',
      notOffered: 'アプリパスワードとメールはここでは選べません。サインインの本人確認には使えないためです。',
      addMore: '方法を追加',
      toStep3: 'ステップ 3 へ進む',
      defaultChanged: '既定の方法を {label} に変更しました。',
      s3Title: 'ステップ 3：サインインを試す',
      s3Intro: '本人確認ができることを確かめます。サインインのときは既定の方法が求められます。',
      s3With: '確認に使う方法：{label}',
      s3Start: '開始',
      s3Other: '別の方法で確認する',
      s3Choose: 'ほかの方法を選んでください：',
      s3CodeLabel: '{n} 桁のコードを入力',
      s3TotpPrompt: '認証アプリを開き、このアカウントのコードを入力してください。',
      s3Passed: '成功しました。{label} でサインインできます。',
      s3Failed: 'サインインの確認に失敗しました。{reason}',
      toStep4: 'ステップ 4 へ進む',
      retryHint: '「もう一度」を押すと再度電話します。戻って別の方法を選ぶこともできます。',
      s4Title: 'ステップ 4：MFA の利用を申請する',
      s4Intro: '申請すると、アカウントへのサインインのたびに登録した方法での本人確認が求められます。',
      s4Need3: '先にステップ 3（サインインを試す）を完了してください。',
      s4Remember: '覚えておいてください：',
      rem1: 'スマートフォンや電話番号を変えるときは、古いものがまだ使えるうちに新しいものを登録してください。方法の変更にも、使える方法が必要です。',
      rem2: '登録したすべての方法を失うと、アカウントにサインインできなくなります。',
      rem3: 'MFA は一度有効にすると自分では解除できません。利用の終了はヘルプデスクでの手続きになります。',
      s4Apply: 'MFA の利用を申請',
      s4Pending: '申請しました。MFA は {time} ごろ（約 {minutes} 分後）に有効になります。それまではこれまでどおりサインインできます。',
      s4Active: 'このアカウントでは MFA が有効です。',
      s4Done: '設定は完了です。端末を離れる前に「セッションを終了」を押してください。',
      endSession: 'セッションを終了',
      endedByYou: 'セッションを終了しました。端末から離れてかまいません。',
      status: {
        created: 'コードの入力を待っています。', queued: '送信待ちです…', sending: '送信中…', sent: '送信しました。まもなく届きます。',
        delivered: 'お使いの電話に届きました。', calling: '電話をかけています…', answered: '応答しました。番号を押してから # を押してください。',
        approved: '確認できました。', denied: '電話で拒否されました。', no_answer: '電話に応答がありませんでした。', busy: '話し中でした。',
        expired: 'この要求は期限切れです。', failed: '届けられませんでした。', locked: '誤ったコードが多すぎます。',
      },
      fraud: '心当たりのない電話として報告されました（0#）。このアカウントの電話による確認は停止されています。係員に相談してください。',
      err: {
        network: 'ゲートウェイから応答がありません。ネットワークを確認してもう一度お試しいただくか、係員に相談してください。',
        generic: '問題が発生しました：{detail}',
        invalid_code: 'コードが正しくありません。残り {n} 回です。コードを確認してもう一度入力してください。',
        invalid_code_nocount: 'コードが正しくありません。確認してもう一度入力してください。',
        invalid_code_format: '{n} 桁の数字を入力してください。',
        replayed_code: 'そのコードは使用済みです。アプリに新しいコードが表示されたら入力してください。',
        challenge_expired: 'コードの有効期限が切れました。もう一度開始して新しいコードを受け取ってください。',
        challenge_locked: '誤ったコードが多すぎます。もう一度開始して新しいコードを受け取ってください。',
        challenge_finished: 'この要求はすでに終了しています。もう一度開始してください。',
        invalid_phone: '電話番号として正しくありません。確認して入力し直してください（例：090-1234-5678）。',
        not_a_mobile_number: 'この番号は SMS を受け取れません。音声通話を選んでください。',
        region_not_allowed: 'この国・種類の番号は登録できません。日本の携帯電話か固定電話の番号を使ってください。',
        slot_taken: 'この電話の枠にはすでに番号があります。別の枠を選んでください。',
        rate_limited: '電話での要求が多すぎます。{n} 秒待つか、認証アプリを使ってください。',
        phone_blocked: '電話の報告により、このアカウントの電話による確認は停止されています。係員に相談してください。',
        phone_delivery_unavailable: '現在、電話に連絡できません。認証アプリを使うか、係員に相談してください。',
        user_locked: '確認の失敗が多すぎるため、このアカウントはロックされています。係員に相談してください。',
        proof_required: 'MFA はすでに有効です。先にステップ 3 で既存の方法で確認してから追加してください。',
        no_test_signin: '申請の前に、最後の変更のあとでサインインを試してください（ステップ 3）。',
        no_confirmed_method: '先に認証方法を登録してください（ステップ 1）。',
        no_default_method: '先に既定の方法を選んでください。',
        session_busy: 'セキュリティキーが処理中です。数秒待ってからもう一度お試しください。',
        unknown_device: 'このセキュリティキーはもう差し込まれていません。差し込んでからもう一度お試しください。',
        pin_too_short: 'PIN が短すぎます。{n} 文字以上にしてください。',
        fido_cannot_be_default: 'セキュリティキーは既定の方法にできません。アプリか電話を選んでください。',
        channel_not_possible: 'この電話にはその方法で連絡できません。もう一方を選んでください。',
        method_not_confirmed: 'この方法はまだ確認されていません。',
        challenge_not_approved: '通話がまだ確認されていません。終わるまでお待ちください。',
      },
      key: {
        wrong_pin: 'PIN が違います。あと {n} 回間違えるとキーがロックされます。もう一度入力してください。',
        pin_blocked: 'このキーの PIN はロックされています。キーの初期化（内容は消えます）が必要です。別のキーを使うか、係員に相談してください。',
        pin_auth_blocked: 'PIN の誤りが続きました。キーを抜いて挿し直してから PIN を入力してください。',
        has_pin: 'このキーにはすでに PIN があります。入力してください。',
        pin_policy: 'このキーはその PIN を受け付けません。{n} 文字以上にしてください。',
        no_touch: '時間内にキーに触れませんでした。もう一度試し、点滅したらキーに触れてください。',
        removed: 'キーが抜かれたか、見つかりませんでした。挿してからもう一度お試しください。',
        not_fido2: 'このデバイスは FIDO2 セキュリティキーではありません。',
        excluded: 'このキーはすでにあなたのアカウントに登録されています。',
        no_cred: 'このキーは登録済みのキーではありません。登録したキーを使ってください。',
        cancelled: '処理が取り消されました。もう一度お試しください。',
        not_accepted: 'キーの応答が受け付けられませんでした。もう一度試すか、別の方法を使ってください。',
        no_pin: 'このキーには PIN がまだありません。{n} 文字以上の PIN を決めてください。',
        no_answer: 'キーが応答しません。抜いて挿し直してから、もう一度お試しください。',
        full: 'このキーにはこれ以上アカウントを登録できません。別のキーを使ってください。',
        unsupported: 'このキーはここでは登録できません（古い U2F 専用キーの可能性があります）。FIDO2 キーを使ってください。',
        refused: 'キーが処理を拒否しました。もう一度試すか、別のキーを使ってください。',
      },
    },
  };

  const sid = location.pathname.split('/').filter(Boolean)[1] || '';
  const base = '/kiosk/' + encodeURIComponent(sid) + '/api';
  const params = new URLSearchParams(location.search);
  const S = {
    lang: params.get('lang') === 'en' ? 'en' : 'ja',
    view: 'loading', // loading, ended, choose, totp, phone, sms, voice, key, alternatives, test, apply
    from: 'first', // where an add-method flow returns: 'first' (step 1) or 'more' (step 2)
    session: null, user: null,
    msg: null, // {kind: 'error'|'success', text} shown in the view's message area
    testPassed: false,
    totp: null, phone: { number: '', slot: 'mobile', channel: 'sms' }, sms: null, voice: null,
    key: null, test: null, code: '', pin: '', pin2: '',
  };
  let waitCtl = null; // AbortController of the current wait
  let events = null; // EventSource of the current security-key operation
  let devicePoll = 0;

  // ---- text ----
  function t(key, vars) {
    let v = key.split('.').reduce((o, k) => (o == null ? o : o[k]), TEXT[S.lang]);
    if (v == null) v = key.split('.').reduce((o, k) => (o == null ? o : o[k]), TEXT.en);
    if (v == null) return key;
    return String(v).replace(/\{(\w+)\}/g, (_, k) => (vars && vars[k] != null ? vars[k] : ''));
  }
  function fmtTime(iso) {
    const d = new Date(iso);
    return d.toLocaleTimeString(S.lang === 'ja' ? 'ja-JP' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
  }
  function methodLabel(m) {
    const kind = m.kind === 'totp' ? t('kindTotp') : m.kind === 'fido' ? t('kindFido')
      : { mobile: t('slotMobile'), alternate: t('slotAlternate'), office: t('slotOffice') }[m.slot] || t('kindPhone');
    const extra = m.kind === 'phone' ? ' ' + m.phone + ' (' + (m.channel === 'voice' ? t('chVoice') : 'SMS') + ')' : '';
    return kind + extra;
  }
  function problemText(p) {
    if (!p) return t('err.network');
    const c = p.code;
    if (c === 'invalid_code') {
      return p.attempts_left != null ? t('err.invalid_code', { n: p.attempts_left }) : t('err.invalid_code_nocount');
    }
    if (c === 'rate_limited') return t('err.rate_limited', { n: p.retry_after || 60 });
    if (c === 'pin_too_short') return t('err.pin_too_short', { n: p.min_length || minPIN() });
    const known = TEXT[S.lang].err[c];
    return known || t('err.generic', { detail: p.detail || p.title || c });
  }
  const KEY_MESSAGES = [
    ['Wrong PIN', 'wrong_pin'], ["This key's PIN is blocked", 'pin_blocked'], ['Too many wrong PINs', 'pin_auth_blocked'],
    ['This key has a PIN', 'has_pin'], ['This key has no PIN yet', 'no_pin'], ['The new PIN is not accepted', 'pin_policy'],
    ['The key does not accept this PIN', 'pin_policy'], ['The key was not touched', 'no_touch'], ['The key was removed', 'removed'],
    ['This device is not a FIDO2', 'not_fido2'], ['This key is already registered', 'excluded'],
    ['This key does not hold', 'no_cred'], ['The operation was cancelled', 'cancelled'], ['The sign-in was not accepted', 'not_accepted'],
    ['The key does not answer', 'no_answer'], ['This key has no room', 'full'], ['This key cannot do what enrollment needs', 'unsupported'],
    ['The key refused the operation', 'refused'],
  ];
  function keyText(sess) {
    const m = sess.message || '';
    for (const [prefix, key] of KEY_MESSAGES) {
      if (m.startsWith(prefix)) return t('key.' + key, { n: key === 'wrong_pin' ? sess.pin_retries : minPIN() });
    }
    return m;
  }

  // ---- DOM helpers ----
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'text') e.textContent = v;
      else if (k === 'cls') e.className = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids.flat()) if (k != null && k !== false) e.append(k.nodeType ? k : document.createTextNode(k));
    return e;
  }
  function button(text, onclick, cls, extra) {
    return h('button', Object.assign({ type: 'button', cls: cls || '', onclick }, extra || {}), text);
  }
  function msgArea() {
    const m = S.msg;
    return h('p', { id: 'msg', cls: 'msg' + (m ? ' ' + m.kind : ''), role: m && m.kind === 'error' ? 'alert' : 'status' }, m ? (typeof m.text === 'function' ? m.text() : m.text) : '');
  }
  function wait(text, mode) { // mode: busy (spinner), touch (pulse), idle, good
    return h('div', { cls: 'wait ' + (mode || 'busy'), id: 'wait', 'aria-live': 'polite' },
      h('div', { cls: mode === 'touch' ? 'pulse' : 'spinner', 'aria-hidden': 'true' }), h('p', { text }));
  }
  // Code lengths come from the session (policy.code_length, totp.digits).
  function codeLen(kind) {
    const s = S.session || {};
    return (kind === 'totp' ? s.totp_digits : s.code_length) || 6;
  }
  function codeOK(code, kind) {
    if (new RegExp('^\\d{' + codeLen(kind) + '}$').test(code)) return true;
    setMsg('error', () => t('err.invalid_code_format', { n: codeLen(kind) }));
    return false;
  }
  function codeForm(label, onsubmit, submitText, kind) {
    const n = codeLen(kind);
    const input = h('input', { id: 'code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: String(n), cls: 'code', value: S.code, oninput: (e) => { S.code = e.target.value.replace(/\D/g, '').slice(0, n); if (e.target.value !== S.code) e.target.value = S.code; } });
    return h('form', { id: 'codeform', novalidate: true, onsubmit: (e) => { e.preventDefault(); onsubmit(S.code); } },
      h('label', { for: 'code', text: label }), input,
      h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'codesubmit' }, submitText || t('confirm'))));
  }
  function setMsg(kind, text) { S.msg = kind ? { kind, text } : null; const m = document.getElementById('msg'); if (m) m.replaceWith(msgArea()); }

  // ---- API ----
  async function api(method, path, body, signal) {
    let res;
    try {
      res = await fetch(base + path, {
        method, signal, headers: body ? { 'Content-Type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined, cache: 'no-store',
      });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      return { ok: false, problem: null };
    }
    let data = null;
    if (res.status !== 204) data = await res.json().catch(() => null);
    if (!res.ok) {
      const p = data || { code: 'http_' + res.status };
      if (res.status === 429) p.retry_after = res.headers.get('Retry-After');
      if (p.code === 'unknown_session' || p.code === 'session_expired') { ended(); throw new Error('session ended'); }
      return { ok: false, problem: p };
    }
    return { ok: true, data };
  }
  function stopWaits() {
    if (waitCtl) { waitCtl.abort(); waitCtl = null; }
    if (events) { events.close(); events = null; }
    if (devicePoll) { clearTimeout(devicePoll); devicePoll = 0; }
  }
  function ended() {
    stopWaits();
    S.view = 'ended';
    S.msg = null;
    render();
  }
  async function refresh() {
    const r = await api('GET', '/state');
    if (r.ok) { S.session = r.data.session; S.user = r.data.user; }
    return r;
  }
  function confirmed() { return (S.user ? S.user.methods : []).filter((m) => m.confirmed); }
  function minPIN() {
    const dev = S.key && S.key.device;
    return Math.max(S.session ? S.session.min_pin_length : 4, dev ? dev.min_pin_length || 0 : 0);
  }

  // Long-polls a challenge until it is final; onChange sees every state.
  async function watchChallenge(id, onChange) {
    const ctl = new AbortController();
    waitCtl = ctl;
    for (let i = 0; i < 60 && !ctl.signal.aborted; i++) {
      let r;
      try { r = await api('GET', '/challenges/' + encodeURIComponent(id) + '?wait=20s', null, ctl.signal); } catch (e) { return; }
      if (ctl.signal.aborted) return;
      if (!r.ok) { onChange(null, r.problem); return; }
      onChange(r.data);
      if (['approved', 'denied', 'expired', 'failed', 'locked', 'no_answer', 'busy'].includes(r.data.status)) return;
    }
  }

  // ---- navigation ----
  function go(view, opts) {
    stopWaits();
    S.view = view;
    S.msg = (opts && opts.msg) || null;
    S.code = '';
    render(true);
  }
  function stepOf(view) {
    if (view === 'alternatives') return 2;
    if (view === 'test') return 3;
    if (view === 'apply') return 4;
    if (['choose', 'totp', 'phone', 'sms', 'voice', 'key'].includes(view)) return S.from === 'first' ? 1 : 2;
    return 0;
  }
  function afterRegistered(label) {
    const msg = { kind: 'success', text: () => t('registered', { label: typeof label === 'function' ? label() : label }) };
    refresh().then(() => { S.from = 'more'; go('alternatives', { msg }); }).catch(() => {});
  }

  // ---- views ----
  const views = {
    loading: () => [h('div', { cls: 'card' }, wait(t('loading')))],
    ended: () => [h('div', { cls: 'card ended', id: 'ended' }, h('h1', { text: t('ended') }), h('p', { id: 'ended-hint', text: S.endedByUser ? t('endedByYou') : t('endedHint') }))],

    choose: () => {
      const first = S.from === 'first';
      return [h('div', { cls: 'card' },
        h('h1', { text: first ? t('s1Title') : t('s2AddTitle') }),
        first ? h('p', { text: t('s1Intro') }) : null,
        h('div', { cls: 'choices', role: 'group' },
          choice('totp', t('kindTotp'), t('kindTotpHint', { n: codeLen('totp') }), startTOTP),
          choice('phone', t('kindPhone'), t('kindPhoneHint'), () => go('phone')),
          choice('fido', t('kindFido'), t('kindFidoHint'), () => startKey(null))),
        h('p', { cls: 'hint', text: t('notOffered') }),
        first ? h('p', { cls: 'hint', text: t('fidoNotDefault') }) : null,
        msgArea(),
        first ? null : h('div', { cls: 'row' }, button(t('back'), () => go('alternatives')))),
      ];
    },

    totp: () => {
      const x = S.totp;
      return [h('div', { cls: 'card' },
        h('h1', { text: t('totpTitle') }),
        h('div', { cls: 'qr' },
          h('img', { src: 'data:image/png;base64,' + x.qr, alt: 'QR', id: 'qr' }),
          h('div', {}, h('p', { text: t('totpScan') }), h('p', { text: t('totpManual') }),
            h('p', { cls: 'secret', id: 'secret', text: x.secret.replace(/(.{4})/g, '$1 ').trim() }))),
        codeForm(t('totpCodeLabel', { n: codeLen('totp') }), confirmTOTP, null, 'totp'),
        h('p', { cls: 'hint', text: t('totpNote') }),
        msgArea(),
        h('div', { cls: 'row' }, button(t('cancel'), cancelTOTP))),
      ];
    },

    phone: () => {
      const p = S.phone;
      const radio = (name, value, label) => h('label', {}, h('input', { type: 'radio', name, value, checked: p[name] === value, onchange: () => { p[name] = value; } }), label);
      return [h('div', { cls: 'card' },
        h('h1', { text: t('phoneTitle') }),
        h('form', { id: 'phoneform', novalidate: true, onsubmit: (e) => { e.preventDefault(); submitPhone(); } },
          h('label', { for: 'number', text: t('phoneNumber') }),
          h('input', { id: 'number', type: 'tel', autocomplete: 'tel', value: p.number, oninput: (e) => { p.number = e.target.value; } }),
          h('p', { cls: 'hint', text: t('phoneNumberHint') }),
          h('fieldset', {}, h('legend', { text: t('phoneSlot') }), h('div', { cls: 'radios' },
            radio('slot', 'mobile', t('slotMobile')), radio('slot', 'alternate', t('slotAlternate')), radio('slot', 'office', t('slotOffice')))),
          h('fieldset', {}, h('legend', { text: t('phoneChannel') }), h('div', { cls: 'radios' },
            radio('channel', 'sms', t('chSms')), radio('channel', 'voice', t('chVoice')))),
          msgArea(),
          h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'phonesubmit' }, t('phoneSubmit')),
            button(t('back'), () => go('choose'))))),
      ];
    },

    sms: () => {
      const x = S.sms;
      return [h('div', { cls: 'card' },
        h('h1', { text: x.test ? t('s3Title') : t('phoneTitle') }),
        h('p', { text: t('smsSentTo', { phone: x.phone, n: codeLen('phone') }) }),
        wait(t('status.' + x.status), x.status === 'delivered' || x.status === 'sent' ? 'good' : x.final ? 'idle' : 'busy'),
        codeForm(t('smsCodeLabel', { n: codeLen('phone') }), x.test ? verifyTest : confirmSMS, null, 'phone'),
        msgArea(),
        h('div', { cls: 'row' }, button(t('cancel'), () => (x.test ? go('test') : go('phone'))))),
      ];
    },

    voice: () => {
      const x = S.voice;
      const mode = x.status === 'approved' ? 'good' : x.final ? 'idle' : 'busy';
      return [h('div', { cls: 'card' },
        h('h1', { text: x.test ? t('s3Title') : t('voiceTitle') }),
        h('p', { text: t('voiceCalling', { phone: x.phone }) }),
        h('p', { cls: 'match', id: 'match', text: x.match ? x.match + ' #' : '#' }),
        h('p', { cls: 'hint', text: t('voiceFraud') }),
        wait(t('status.' + x.status), mode),
        msgArea(),
        h('div', { cls: 'row' },
          x.final && x.status !== 'approved' ? button(t('tryAgain'), () => (x.test ? startTest(x.method) : submitPhone()), 'primary') : null,
          button(t('cancel'), () => (x.test ? go('test') : go('phone'))))),
      ];
    },

    key: () => {
      const k = S.key;
      const kids = [h('h1', { text: k.assert ? t('s3Title') : t('keyTitle') })];
      if (k.phase === 'insert') {
        kids.push(wait(t('keyInsert')));
      } else if (k.phase === 'pin') {
        kids.push(h('p', { text: t('keyFound', { product: k.device.product || 'FIDO2' }) }));
        const setting = !k.device.pin_set && !k.assert;
        kids.push(h('p', { id: 'pinhelp', text: setting ? t('keySetPin', { n: minPIN() }) : t('keyEnterPin') }));
        const pin = h('input', { id: 'pin', type: 'password', autocomplete: 'off', value: S.pin, 'aria-describedby': 'pinhelp', oninput: (e) => { S.pin = e.target.value; } });
        const form = h('form', { id: 'pinform', novalidate: true, onsubmit: (e) => { e.preventDefault(); submitPIN(); } },
          h('label', { for: 'pin', text: t('pinLabel') }), pin,
          setting ? [h('label', { for: 'pin2', text: t('pin2Label') }), h('input', { id: 'pin2', type: 'password', autocomplete: 'off', value: S.pin2, oninput: (e) => { S.pin2 = e.target.value; } })] : null,
          h('div', { cls: 'row' }, h('button', { type: 'submit', cls: 'primary', id: 'pinsubmit' }, k.assert ? t('keyUseKey') : t('keyRegister'))));
        kids.push(form);
        kids.push(wait('', 'idle'));
      } else if (k.phase === 'working') {
        kids.push(wait(k.state === 'touch_key' ? t('keyTouch') : t('keyWaiting'), k.state === 'touch_key' ? 'touch' : 'busy'));
        kids.push(h('p', { cls: 'hint', text: t('keyCancelNote') }));
      }
      kids.push(msgArea());
      kids.push(h('div', { cls: 'row' }, button(t('cancel'), () => cancelKey(k), '', { id: 'key-cancel' })));
      return [h('div', { cls: 'card' }, kids)];
    },

    alternatives: () => {
      const ms = confirmed();
      const w = S.user.warnings || [];
      return [h('div', { cls: 'card' },
        h('h1', { text: t('s2Title') }),
        h('p', { text: t('s2Intro') }),
        w.includes('single_method') ? h('p', { cls: 'warn', id: 'single-warning', role: 'note', text: '\u26A0 ' + t('singleWarn') }) : null,
        w.includes('no_default_method') ? h('p', { cls: 'warn', text: '\u26A0 ' + t('noDefaultWarn') }) : null,
        h('h2', { text: t('yourMethods') }),
        h('ul', { cls: 'list', id: 'methods' }, ms.map((m) => h('li', { 'data-kind': m.kind },
          h('span', {}, methodLabel(m), m.default ? h('span', { cls: 'badge', text: t('defaultBadge') }) : null),
          !m.default && m.kind !== 'fido' ? button(t('makeDefault'), () => makeDefault(m)) : null))),
        h('p', { cls: 'hint', text: t('notOffered') }),
        msgArea(),
        h('div', { cls: 'row' },
          button(t('addMore'), () => { S.from = 'more'; go('choose'); }, '', { id: 'add-more' }),
          button(t('toStep3'), () => go('test'), 'primary', { id: 'to-step3' }))),
      ];
    },

    test: () => {
      const x = S.test || (S.test = { method: null, others: false, passed: null });
      const ms = confirmed();
      const def = ms.find((m) => m.default);
      const chosen = ms.find((m) => m.id === x.method) || def || ms[0];
      const kids = [h('h1', { text: t('s3Title') }), h('p', { text: t('s3Intro') })];
      if (x.done) {
        kids.push(h('p', { cls: 'msg success', id: 'passed', text: '\u2714 ' + t('s3Passed', { label: x.passed ? methodLabel(x.passed) : '' }) }));
        kids.push(h('div', { cls: 'row' }, button(t('toStep4'), () => go('apply'), 'primary', { id: 'to-step4' })));
        return [h('div', { cls: 'card' }, kids)];
      }
      if (chosen && chosen.kind === 'totp' && x.challenge) {
        kids.push(h('p', { text: t('s3With', { label: methodLabel(chosen) }) }));
        kids.push(h('p', { text: t('s3TotpPrompt') }));
        kids.push(codeForm(t('s3CodeLabel', { n: codeLen('totp') }), verifyTest, null, 'totp'));
      } else if (chosen) {
        kids.push(h('p', { id: 'verify-with', text: t('s3With', { label: methodLabel(chosen) }) }));
        kids.push(h('div', { cls: 'row' }, button(t('s3Start'), () => startTest(chosen), 'primary', { id: 'start-test' })));
      }
      kids.push(msgArea());
      const others = ms.filter((m) => chosen && m.id !== chosen.id);
      if (others.length) {
        kids.push(button(t('s3Other'), () => { x.others = !x.others; render(); }, 'link', { id: 'other-option', 'aria-expanded': x.others ? 'true' : 'false' }));
        if (x.others) {
          kids.push(h('p', { text: t('s3Choose') }));
          kids.push(h('ul', { cls: 'list', id: 'others' }, others.map((m) => h('li', {}, button(methodLabel(m), () => { x.method = m.id; x.challenge = null; x.others = false; S.msg = null; render(true); })))));
        }
      }
      kids.push(h('div', { cls: 'row' }, button(t('back'), () => go('alternatives'))));
      return [h('div', { cls: 'card' }, kids)];
    },

    apply: () => {
      const mfa = S.user.mfa;
      const kids = [h('h1', { text: t('s4Title') }), h('p', { text: t('s4Intro') }),
        h('h2', { text: t('s4Remember') }),
        h('ul', { cls: 'reminders', id: 'reminders' }, h('li', { text: t('rem1') }), h('li', { text: t('rem2') }), h('li', { text: t('rem3') }))];
      if (mfa.state === 'pending') {
        const mins = Math.max(1, Math.round((new Date(mfa.activates_at) - Date.now()) / 60000));
        kids.push(h('p', { cls: 'msg success', id: 'applied', text: t('s4Pending', { time: fmtTime(mfa.activates_at), minutes: mins }) }));
        kids.push(h('p', { text: t('s4Done') }), msgArea(), h('div', { cls: 'row' }, button(t('endSession'), endSession, 'primary', { id: 'end-session' })));
      } else if (mfa.state === 'active') {
        kids.push(h('p', { cls: 'msg success', id: 'applied', text: t('s4Active') }));
        kids.push(h('p', { text: t('s4Done') }), msgArea(), h('div', { cls: 'row' }, button(t('endSession'), endSession, 'primary', { id: 'end-session' })));
      } else {
        if (!S.testPassed) kids.push(h('p', { cls: 'warn', id: 'need-step3', text: t('s4Need3') }));
        kids.push(msgArea());
        kids.push(h('div', { cls: 'row' },
          button(t('s4Apply'), applyMFA, 'primary', { id: 'apply', disabled: !S.testPassed }),
          button(t('back'), () => go(S.testPassed ? 'alternatives' : 'test'))));
      }
      return [h('div', { cls: 'card' }, kids)];
    },
  };
  function choice(kind, title, hint, onclick) {
    return h('button', { type: 'button', cls: 'choice', id: 'choose-' + kind, onclick }, h('strong', { text: title }), h('span', { text: hint }));
  }

  function render(moveFocus) {
    document.documentElement.lang = S.lang;
    document.title = t('title');
    document.getElementById('title').textContent = t('title');
    const lang = document.getElementById('lang');
    lang.textContent = t('langSwitch');
    lang.setAttribute('lang', S.lang === 'ja' ? 'en' : 'ja');
    const cur = stepOf(S.view);
    const steps = document.getElementById('steps');
    steps.replaceChildren(...[1, 2, 3, 4].map((n) => {
      const done = S.view !== 'ended' && ((n === 1 && confirmed().length > 0 && cur !== 1) || (n === 3 && S.testPassed) || (n === 4 && S.user && S.user.mfa.state !== 'off') || (n === 2 && cur > 2));
      return h('li', { cls: done ? 'done' : '', 'aria-current': n === cur ? 'step' : null }, h('b', { text: t('step', { n }) }), t('step' + n));
    }));
    steps.parentElement.hidden = S.view === 'ended' || S.view === 'loading';
    const foot = document.getElementById('foot');
    foot.textContent = S.view !== 'ended' && S.session ? (S.user ? t('account', { user: S.user.user }) + ' \u00B7 ' : '') + t('sessionEnds', { time: fmtTime(S.session.expires_at) }) : '';
    const main = document.getElementById('main');
    const focusId = document.activeElement && main.contains(document.activeElement) ? document.activeElement.id : '';
    main.replaceChildren(...views[S.view]());
    main.dataset.view = S.view;
    if (moveFocus) {
      const first = main.querySelector('input:not([type=radio])') || main.querySelector('h1');
      if (first && first.tagName === 'H1') { first.tabIndex = -1; }
      if (first) first.focus();
    } else if (focusId) {
      const again = document.getElementById(focusId);
      if (again) again.focus();
    }
  }

  // ---- actions: authenticator app ----
  async function startTOTP() {
    setMsg(null);
    const r = await api('POST', '/methods', { kind: 'totp', label: '', language: S.lang, proof: S.proof });
    if (!r.ok) return setMsg('error', () => problemText(r.problem));
    S.totp = { method: r.data.method.id, secret: r.data.totp.secret, qr: r.data.totp.qr_png };
    go('totp');
  }
  async function confirmTOTP(code) {
    if (!codeOK(code, 'totp')) return;
    const r = await api('POST', '/methods/' + S.totp.method + '/confirm', { code });
    if (!r.ok) {
      S.code = ''; render();
      return setMsg('error', () => r.problem && r.problem.code === 'invalid_code' ? t('err.invalid_code_nocount') + ' ' + t('totpNote') : problemText(r.problem));
    }
    S.totp = null;
    afterRegistered(() => t('kindTotp'));
  }
  async function cancelTOTP() {
    const id = S.totp && S.totp.method;
    S.totp = null;
    if (id) await api('DELETE', '/methods/' + id).catch(() => {});
    go(S.from === 'first' ? 'choose' : 'alternatives');
  }

  // ---- actions: phone ----
  async function submitPhone() {
    const p = S.phone;
    if (!p.number.trim()) return setMsg('error', () => t('err.invalid_phone'));
    setMsg(null);
    const btn = document.getElementById('phonesubmit');
    if (btn) btn.disabled = true;
    const r = await api('POST', '/methods', { kind: 'phone', slot: p.slot, channel: p.channel, phone: p.number.trim(), label: '', language: S.lang, proof: S.proof });
    if (btn) btn.disabled = false;
    if (!r.ok) {
      if (S.view !== 'phone') go('phone');
      return setMsg('error', () => problemText(r.problem));
    }
    const c = r.data.challenge;
    follow(c, r.data.method, false);
  }
  // follow shows a phone challenge (registration or test) and watches it.
  function follow(c, m, test) {
    const x = { id: c.id, method: m, phone: m.phone, status: c.status, match: c.number_match, test, final: false };
    if (c.channel === 'voice') { S.voice = x; go('voice'); } else { S.sms = x; go('sms'); }
    watchChallenge(c.id, (ch, problem) => {
      const cur = c.channel === 'voice' ? S.voice : S.sms;
      if (cur !== x) return;
      if (!ch) { x.final = true; render(); return setMsg('error', () => problemText(problem)); }
      x.status = ch.status;
      x.final = ['approved', 'denied', 'expired', 'failed', 'locked', 'no_answer', 'busy'].includes(ch.status);
      let err = null;
      if (ch.status === 'denied' && ch.reason === 'fraud_reported') err = () => t('fraud');
      else if (x.final && ch.status !== 'approved') err = () => t('status.' + ch.status) + ' ' + t('retryHint');
      if (c.channel === 'voice' && ch.status === 'approved') {
        if (test) { passTest(m); return; }
        confirmVoice(x);
        return;
      }
      if (c.channel === 'sms' && (ch.status === 'sent' || ch.status === 'delivered' || ch.status === 'queued' || ch.status === 'sending')) { render(); return; }
      render();
      if (err) setMsg('error', err);
    });
  }
  async function confirmSMS(code) {
    if (!codeOK(code, 'phone')) return;
    const r = await api('POST', '/methods/' + S.sms.method.id + '/confirm', { code });
    if (!r.ok) { S.code = ''; render(); return setMsg('error', () => problemText(r.problem)); }
    const m = r.data.method;
    S.sms = null;
    afterRegistered(() => methodLabel(m));
  }
  async function confirmVoice(x) {
    const r = await api('POST', '/methods/' + x.method.id + '/confirm', { challenge: x.id });
    if (!r.ok) { render(); return setMsg('error', () => problemText(r.problem)); }
    S.voice = null;
    afterRegistered(() => methodLabel(r.data.method));
  }

  // ---- actions: security key ----
  function startKey(assert) {
    S.key = { phase: 'insert', device: null, assert: assert || null, op: null, state: null };
    S.pin = ''; S.pin2 = '';
    go('key');
    pollDevices();
  }
  async function pollDevices() {
    if (S.view !== 'key' || S.key.phase !== 'insert') return;
    const r = await api('GET', '/devices').catch(() => null);
    if (S.view !== 'key' || S.key.phase !== 'insert') return;
    if (r && r.ok && r.data.length) {
      S.key.device = r.data[0];
      S.key.phase = 'pin';
      render(true);
      return;
    }
    devicePoll = setTimeout(pollDevices, 1000);
  }
  async function submitPIN() {
    const k = S.key;
    const setting = !k.device.pin_set && !k.assert;
    if (setting) {
      if ([...S.pin].length < minPIN()) return setMsg('error', () => t('pinShort', { n: minPIN() }));
      if (S.pin !== S.pin2) return setMsg('error', () => t('pinMismatch'));
    } else if (!S.pin) {
      return setMsg('error', () => t('keyEnterPin'));
    }
    setMsg(null);
    const body = k.assert ? { device: k.device.path, pin: S.pin, challenge: k.assert.challenge }
      : setting ? { device: k.device.path, new_pin: S.pin, label: '' } : { device: k.device.path, pin: S.pin, label: '' };
    const r = await api('POST', k.assert ? '/assert' : '/enroll', body);
    if (!r.ok) return setMsg('error', () => problemText(r.problem));
    k.op = r.data.operation;
    k.phase = 'working';
    k.state = 'waiting_for_key';
    S.pin = ''; S.pin2 = '';
    render();
    listen(k);
  }
  // cancelKey abandons the operation on the key (the server cancels the
  // key's pending call) before leaving the view.
  async function cancelKey(k) {
    if (k.phase === 'working') {
      if (events) { events.close(); events = null; }
      const r = await api('POST', '/cancel').catch(() => null);
      if (S.key !== k) return;
      if (r && !r.ok) return setMsg('error', () => problemText(r.problem));
    }
    S.key = null;
    if (k.assert) go('test'); else go(S.from === 'first' ? 'choose' : 'alternatives');
  }
  function listen(k) {
    if (events) events.close();
    const es = new EventSource(base + '/events');
    events = es;
    es.addEventListener('state', (ev) => {
      if (S.key !== k) return;
      const sess = JSON.parse(ev.data);
      if (sess.operation !== k.op) return;
      k.state = sess.state;
      if (sess.state === 'done') {
        es.close(); events = null;
        if (k.assert) { passTest(k.assert.method); return; }
        S.key = null;
        afterRegistered(() => t('kindFido'));
        return;
      }
      if (sess.state === 'need_pin') {
        k.phase = 'pin';
        if (sess.message.startsWith('This key has a PIN')) k.device.pin_set = true;
        if (sess.message.startsWith('This key has no PIN yet')) k.device.pin_set = false;
        render(true);
        setMsg('error', () => keyText(sess));
        return;
      }
      if (sess.state === 'failed' || sess.state === 'expired') {
        es.close(); events = null;
        if (sess.state === 'expired') { ended(); return; }
        k.phase = 'pin';
        render();
        setMsg('error', () => keyText(sess));
        return;
      }
      render();
    });
    es.onerror = () => {
      if (events !== es) return;
      es.close(); events = null;
      refresh().then((r) => { if (r.ok && S.key === k && k.phase === 'working') { k.phase = 'pin'; render(); setMsg('error', () => t('err.network')); } }).catch(() => {});
    };
  }

  // ---- actions: step 2 ----
  async function makeDefault(m) {
    const r = await api('PUT', '/default-method', { method: m.id });
    if (!r.ok) return setMsg('error', () => problemText(r.problem));
    S.user = r.data;
    S.testPassed = false; // try signing in again with the new default
    S.test = null;
    S.msg = { kind: 'success', text: () => t('defaultChanged', { label: methodLabel(m) }) };
    render();
  }

  // ---- actions: step 3 ----
  async function startTest(m) {
    S.msg = null;
    const x = S.test || (S.test = { others: false });
    x.method = m.id;
    x.challenge = null;
    const r = await api('POST', '/challenges', { method: m.id, purpose: 'test' });
    if (!r.ok) { S.view = 'test'; render(); return setMsg('error', () => t('s3Failed', { reason: problemText(r.problem) })); }
    const c = r.data;
    x.challenge = c.id;
    if (c.kind === 'totp') { S.view = 'test'; S.code = ''; render(true); return; }
    if (c.kind === 'phone') { follow(c, m, true); return; }
    if (c.kind === 'fido') { startKey({ challenge: c.id, method: m }); }
  }
  async function verifyTest(code) {
    if (!codeOK(code, S.view === 'sms' ? 'phone' : 'totp')) return;
    const id = S.view === 'sms' ? S.sms.id : S.test.challenge;
    const r = await api('POST', '/challenges/' + id + '/verify', { code });
    if (!r.ok) {
      S.code = ''; render();
      return setMsg('error', () => t('s3Failed', { reason: problemText(r.problem) }));
    }
    const m = confirmed().find((x) => x.id === r.data.method);
    passTest(m);
  }
  function passTest(m) {
    stopWaits();
    S.testPassed = true;
    S.proof = S.test && S.test.challenge ? S.test.challenge : S.proof;
    S.test = { passed: m || null, done: true };
    S.view = 'test';
    S.msg = null;
    refresh().finally(() => render(true));
  }

  // ---- actions: step 4 ----
  async function applyMFA() {
    const r = await api('PUT', '/mfa', { enabled: true });
    if (!r.ok) return setMsg('error', () => problemText(r.problem));
    S.user = r.data;
    render(true);
  }

  // endSession ends the session on the server, so that the next person at
  // this kiosk cannot reach this one's account.
  async function endSession() {
    let r;
    try { r = await api('POST', '/end'); } catch (e) { return; } // already ended: the page says so
    if (!r.ok) return setMsg('error', () => problemText(r.problem));
    S.endedByUser = true;
    ended();
  }

  // ---- start ----
  document.getElementById('lang').addEventListener('click', () => {
    S.lang = S.lang === 'ja' ? 'en' : 'ja';
    render();
  });
  async function checkSession() {
    if (S.view === 'ended') return;
    try { await refresh(); } catch (e) { return; }
    if (S.session) {
      const left = new Date(S.session.expires_at) - Date.now();
      clearTimeout(checkSession.timer);
      checkSession.timer = setTimeout(checkSession, Math.max(1000, Math.min(left + 1500, 20000)));
    }
  }
  async function start() {
    render();
    let r;
    try { r = await refresh(); } catch (e) { return; }
    if (!r.ok) { S.view = 'ended'; render(); return; }
    const n = confirmed().length;
    if (n === 0) { S.from = 'first'; S.view = 'choose'; } else if (S.user.mfa.state !== 'off') { S.view = 'apply'; S.testPassed = true; } else { S.from = 'more'; S.view = 'alternatives'; }
    render(true);
    checkSession();
  }
  start();
})();
