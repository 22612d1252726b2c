/// What identifies this build of attnc.
public enum AttncBuild {
  /// `attnc <version>`: recorded as the producer of every plan and machine profile this build
  /// writes; a cached machine profile from another version is measured again.
  public static let version = "attnc 0.1.0"
}
