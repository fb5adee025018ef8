"""What the instructor writes from the sources: the release and the student notebooks
(``release``), the student distribution (``student_release``), the site (``site``), the
figures (``figures``), the expected-output blocks (``expected_outputs``) and the stored public
answers (``public_answers``)."""
