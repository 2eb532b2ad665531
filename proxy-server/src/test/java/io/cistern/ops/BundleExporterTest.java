package io.cistern.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The step that gives a written bundle its name never replaces a file: not one that existed when
 * the export began (checked then), nor one that appeared while it was written (checked here).
 */
class BundleExporterTest {

  @TempDir
  Path temp;

  @Test
  void aFileThatAppearedWhileTheBundleWasWrittenSurvivesItsPublication() throws Exception {
    Path written = Files.writeString(temp.resolve(".site.tar.1234.partial"), "the bundle");
    Path target = Files.writeString(temp.resolve("site.tar"), "someone else's file, created after the check");

    OperationException refused = assertThrows(OperationException.class, () -> BundleExporter.publish(written, target));

    assertEquals(409, refused.status());
    assertEquals("someone else's file, created after the check", Files.readString(target));
  }

  @Test
  void aLinkThatAppearedInItsPlaceIsNeitherFollowedNorReplaced() throws Exception {
    Path written = Files.writeString(temp.resolve(".site.tar.1234.partial"), "the bundle");
    Path elsewhere = temp.resolve("elsewhere");
    Path target = Files.createSymbolicLink(temp.resolve("site.tar"), elsewhere);

    assertEquals(409, assertThrows(OperationException.class, () -> BundleExporter.publish(written, target)).status());

    assertEquals(elsewhere, Files.readSymbolicLink(target));
    assertFalse(Files.exists(elsewhere), "nothing was written through the link");
  }

  @Test
  void aFreeNameGetsTheWholeBundle() throws Exception {
    Path written = Files.writeString(temp.resolve(".site.tar.1234.partial"), "the bundle");
    Path target = temp.resolve("site.tar");

    BundleExporter.publish(written, target);

    assertEquals("the bundle", Files.readString(target));
  }
}
