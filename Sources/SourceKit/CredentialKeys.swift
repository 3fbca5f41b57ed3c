/// Which provider-side metadata, label and tag keys name a credential, so that every connector
/// drops them at its edge (OpenStack server `metadata`, Yandex labels, FOCUS `Tags`): such a
/// pair never reaches the snapshot, the database, a label or a log.
///
/// The rule (docs/config.md, "Tags that name credentials"): a key is split into word parts at
/// every character that is not a letter or a digit and where a lower-case letter or digit is
/// followed by an upper-case one (`db_password` → db, password; `apiKey` → api, key;
/// `X-Auth-Token` → x, auth, token). It names a credential when
/// - a part *is* one of the short words in `wholeParts` (`key`, `pass`, `pwd`, `auth`,
///   `private`…), so `keyboard`, `passenger` and `monkey` stay; or
/// - a part *contains* one of the long words in `containedWords` (`password`, `secret`,
///   `token`, `credential`…), so run-together keys such as `dbpassword` or `apitoken` go too.
package enum CredentialKeys {
    package static let wholeParts: Set<String> = [
        "pass", "pwd", "passwd", "key", "keys", "auth", "private", "cred", "creds", "jwt", "bearer", "cookie", "dsn", "otp", "pin",
    ]
    package static let containedWords = [
        "password", "passwd", "passphrase", "secret", "token", "credential", "apikey", "accesskey", "privatekey", "sshkey", "authkey",
    ]

    /// Whether `key` names a credential by the rule above.
    package static func namesCredential(_ key: String) -> Bool {
        for part in parts(key) {
            if wholeParts.contains(part) { return true }
            if containedWords.contains(where: { part.contains($0) }) { return true }
        }
        return false
    }

    /// `tags` without the pairs whose key names a credential.
    package static func dropCredentials(_ tags: [String: String]) -> [String: String] {
        guard tags.keys.contains(where: namesCredential) else { return tags }
        return tags.filter { !namesCredential($0.key) }
    }

    /// The lower-cased word parts of a key.
    package static func parts(_ key: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var previousLowerOrDigit = false
        for character in key {
            guard character.isLetter || character.isNumber else {
                if !current.isEmpty { parts.append(current) }
                current = ""
                previousLowerOrDigit = false
                continue
            }
            if character.isUppercase && previousLowerOrDigit && !current.isEmpty {
                parts.append(current)
                current = ""
            }
            current += character.lowercased()
            previousLowerOrDigit = character.isLowercase || character.isNumber
        }
        if !current.isEmpty { parts.append(current) }
        return parts
    }
}
