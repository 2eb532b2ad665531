package io.cistern.oci;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Locale;

/** The platform of an index entry: {@code linux/amd64}, {@code linux/arm64/v8}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Platform(
    @JsonProperty("os") String os,
    @JsonProperty("architecture") String architecture,
    @JsonProperty("variant") String variant) {

  /** What Distribution picks for clients that cannot take an index. */
  public static final Platform LINUX_AMD64 = new Platform("linux", "amd64", null);

  /** Parses {@code os/arch[/variant]}. */
  public static Platform parse(String text) {
    String[] parts = text.trim().toLowerCase(Locale.ROOT).split("/");
    if (parts.length < 2 || parts.length > 3 || parts[0].isEmpty() || parts[1].isEmpty()) {
      throw new IllegalArgumentException("a platform is os/architecture[/variant]: " + text);
    }
    return new Platform(parts[0], parts[1], parts.length == 3 ? parts[2] : null);
  }

  /** True when this entry's platform satisfies {@code wanted}; a wanted variant must match. */
  public boolean satisfies(Platform wanted) {
    return wanted.os.equals(os)
        && wanted.architecture.equals(architecture)
        && (wanted.variant == null || wanted.variant.equals(variant));
  }

  @Override
  public String toString() {
    return os + "/" + architecture + (variant == null ? "" : "/" + variant);
  }
}
