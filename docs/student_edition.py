# nbconvert settings of the student edition (`make student`): every notebook of notebooks/
# without the cells tagged "solution", with outputs, execution counts and stored widget
# state cleared, so that students run every cell themselves. The other cell tags stay
# ("parameters" lets papermill run a student notebook too).
c = get_config()  # noqa: F821 (nbconvert provides get_config when it reads this file)
c.NbConvertApp.export_format = "notebook"
c.TagRemovePreprocessor.enabled = True
c.TagRemovePreprocessor.remove_cell_tags = {"solution"}
c.ClearOutputPreprocessor.enabled = True
c.ClearMetadataPreprocessor.enabled = True
c.ClearMetadataPreprocessor.clear_cell_metadata = False
c.ClearMetadataPreprocessor.preserve_nb_metadata_mask = {"kernelspec", "language_info"}
