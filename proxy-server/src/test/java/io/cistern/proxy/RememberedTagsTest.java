package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.TagKey;
import io.cistern.cache.TagMapping;
import io.cistern.oci.Digest;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The in-memory tag mappings and their index by digest, which must follow every change. */
class RememberedTagsTest {

  private static final Instant NOW = Instant.ofEpochMilli(1_700_000_000_000L);

  @Test
  void forgettingADigestDropsExactlyTheMappingsThatStillPointAtIt() {
    RememberedTags tags = new RememberedTags(100);
    Digest old = digest("old");
    Digest current = digest("current");
    tags.put(mapping("a", old));
    tags.put(mapping("b", old));
    tags.put(mapping("c", old));
    tags.put(mapping("c", current));

    tags.forget(old);

    assertNull(tags.get(key("a")));
    assertNull(tags.get(key("b")));
    assertEquals(current, tags.get(key("c")).digest(), "retagged since: it stays");
    assertEquals(1, tags.indexedDigests(), "only the current digest is indexed");
  }

  @Test
  void theIndexFollowsInvalidationsAndSizeEvictions() {
    RememberedTags tags = new RememberedTags(10);
    tags.put(mapping("gone", digest("gone")));
    tags.invalidate(key("gone"));
    assertEquals(0, tags.indexedDigests());

    for (int i = 0; i < 1000; i++) {
      tags.put(mapping("t" + i, digest("d" + i)));
    }
    tags.cleanUp();

    assertTrue(tags.indexedDigests() <= 10, "evicted mappings leave the index: " + tags.indexedDigests());
    for (int i = 0; i < 1000; i++) {
      TagMapping kept = tags.get(key("t" + i));
      if (kept != null) {
        tags.forget(kept.digest());
        assertNull(tags.get(key("t" + i)), "what is kept can be forgotten through the index");
      }
    }
    assertEquals(0, tags.indexedDigests());
  }

  private static TagMapping mapping(String tag, Digest digest) {
    return new TagMapping(key(tag), digest, NOW);
  }

  private static TagKey key(String tag) {
    return new TagKey("registry.test", RepositoryName.of("team/app"), new Tag(tag));
  }

  private static Digest digest(String content) {
    return Digest.sha256Of(content.getBytes(StandardCharsets.UTF_8));
  }
}
