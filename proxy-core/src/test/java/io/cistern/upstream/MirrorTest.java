package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.RepositoryName;
import java.net.URI;
import org.junit.jupiter.api.Test;

/** How a request names the registry it means, for each kind of upstream url. */
class MirrorTest {

  private static final RepositoryName APP = RepositoryName.of("team/app");

  @Test
  void aRegistryIsAskedForTheNameAlone() {
    assertEquals("/v2/team/app/manifests/1.0", Mirror.NONE.path("ghcr.io", APP, "manifests/1.0"));
    assertEquals("team/app", Mirror.NONE.repository("ghcr.io", APP));
  }

  @Test
  void anNsMirrorIsToldTheRegistryInTheQuery() {
    assertEquals("/v2/team/app/tags/list?ns=ghcr.io", Mirror.NS.path("ghcr.io", APP, "tags/list"));
    assertEquals("/v2/team/app/manifests/1.0?ns=localhost%3A5000", Mirror.NS.path("localhost:5000", APP, "manifests/1.0"));
    assertEquals("team/app", Mirror.NS.repository("ghcr.io", APP), "the token scope names the plain repository");
  }

  @Test
  void aPrefixMirrorIsToldTheRegistryInThePath() {
    assertEquals("/v2/ghcr.io/team/app/blobs/sha256:ab", Mirror.PREFIX.path("ghcr.io", APP, "blobs/sha256:ab"));
    assertEquals("ghcr.io/team/app", Mirror.PREFIX.repository("ghcr.io", APP), "the token scope names what the mirror knows");
  }

  @Test
  void aPageLinkWithoutTheNsItWasAskedWithGetsItBack() {
    URI page = URI.create("http://site:5000/v2/team/app/tags/list?n=2&last=b");
    assertEquals(URI.create("http://site:5000/v2/team/app/tags/list?n=2&last=b&ns=ghcr.io"), Mirror.NS.identified(page, "ghcr.io"));
    URI bare = URI.create("http://site:5000/v2/team/app/tags/list");
    assertEquals(URI.create("http://site:5000/v2/team/app/tags/list?ns=ghcr.io"), Mirror.NS.identified(bare, "ghcr.io"));
    URI named = URI.create("http://site:5000/v2/team/app/tags/list?n=2&ns=ghcr.io");
    assertEquals(named, Mirror.NS.identified(named, "ghcr.io"));
    assertEquals(page, Mirror.PREFIX.identified(page, "ghcr.io"));
  }

  @Test
  void theKeysValuesAreNsAndPrefix() {
    assertEquals(Mirror.NONE, Mirror.parse(null));
    assertEquals(Mirror.NS, Mirror.parse("ns"));
    assertEquals(Mirror.PREFIX, Mirror.parse("Prefix"));
    IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class, () -> Mirror.parse("path"));
    assertTrue(wrong.getMessage().contains("ns or prefix"), wrong.getMessage());
  }
}
